"""Per-client rate limits on every participant route (Flask-Limiter), so no script can fill a study.

Two limits, both settings: `RATE_LIMIT_PARTICIPANT` on every page and API call of the participant flow, counted
per browser session (the signed cookie's session token for the study, else the client address), and
`RATE_LIMIT_ASSIGN` on consent POSTs, the requests that take a place, counted per client address (behind a
proxy set PROXY_HOPS so that is the real client's). Requests carrying the study's simulation key
(experiment/simulation.py) are exempt: `tuneback experiment simulate` fills a study from one machine. Counters live in `RATELIMIT_STORAGE_URI` (memory:// counts
per worker process; point all workers at one redis:// or memcached:// to count them together).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits.storage import MemoryStorage

EXTENSION = "tuneback.limiter"
PARTICIPANT_BLUEPRINTS = ("participant", "api")


def client_address() -> str:
    """The client's address (ProxyFix has already applied X-Forwarded-For when PROXY_HOPS says so)."""
    return request.remote_addr or "unknown"


def participant_key() -> str:
    """One browser's study session when it has one, else its address: each participant gets their own budget."""
    from experiment.current import token_for

    experiment_id = (request.view_args or {}).get("experiment_id")
    token = token_for(experiment_id) if isinstance(experiment_id, int) else None
    return f"session:{token}" if token else f"addr:{client_address()}"


def simulation_exempt() -> bool:
    """Whether this request carries the right simulation key for its study (then no rate limit applies to it)."""
    from experiment.simulation import HEADER, key_status

    experiment_id = (request.view_args or {}).get("experiment_id")
    if not isinstance(experiment_id, int) or not request.headers.get(HEADER):
        return False
    return key_status(current_app.config["SECRET_KEY"], experiment_id, request.headers.get(HEADER)) is True


class ThreadSafeMemoryStorage(MemoryStorage):
    """limits' in-process storage with its expiry timer restarted under a lock.

    limits 5.8's MemoryStorage checks `timer.is_alive()` and starts a new timer without a lock, so two gthread
    workers' threads hitting it at once can start one timer twice: "RuntimeError: threads can only be started
    once", a 500 (seen twice in 38 000 requests of benchmarks/bench_load.py). The override replaces the
    private method by its mangled name; `memory://` maps here while limits still has that method.
    """

    STORAGE_SCHEME = ["threadsafe-memory"]

    def __init__(self, uri: str | None = None, **options: object) -> None:
        self._timer_lock = threading.Lock()
        super().__init__(uri, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the name MemoryStorage calls
        with self._timer_lock:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)
                self.timer.daemon = True
                self.timer.start()


def storage_uri(configured: str) -> str:
    """The configured counter store, with the in-process one swapped for its thread-safe version."""
    racy = hasattr(MemoryStorage, "_MemoryStorage__schedule_expiry")
    return "threadsafe-memory://" if racy and configured.strip() == "memory://" else configured


def init_app(app: Flask) -> None:
    """Limit every route of the participant and API blueprints, and consent POSTs per address on top."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # 429s say when to come back (Retry-After)
    limiter = Limiter(key_func=client_address, app=app, storage_uri=storage_uri(app.config["RATELIMIT_STORAGE_URI"]))
    app.extensions[EXTENSION] = limiter
    limiter.request_filter(simulation_exempt)  # simulated listeners with the study's key (experiment/simulation.py)
    per_participant = limiter.shared_limit(  # one budget across all the routes, not one per route
        lambda: current_app.config["RATE_LIMIT_PARTICIPANT"], scope="participant", key_func=participant_key,
        error_message="too many requests from this browser: wait a moment")
    for name in PARTICIPANT_BLUEPRINTS:
        per_participant(app.blueprints[name])
    assign_limit = limiter.shared_limit(lambda: current_app.config["RATE_LIMIT_ASSIGN"], scope="assign",
                                        key_func=client_address,
                                        error_message="too many new participants from this address: try again later")

    @app.before_request
    def _limit_assignment() -> None:
        """Consent POSTs (each may take a place) also count against the per-address assignment limit."""
        if request.endpoint == "participant.consent" and request.method == "POST":
            with assign_limit:  # raises RateLimitExceeded (a 429 with Retry-After) once the limit is spent
                pass
