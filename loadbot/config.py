"""A load run's settings and what comes back from it: per-listener results and the run's figures."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from loadbot.errors import LoadbotError

LATENCY_KINDS = ("page", "state", "present", "audio", "answer", "answer_e2e", "events")
"""What the latency figures are kept for; `answer_e2e` runs from the first try to the confirmation."""


@dataclass(frozen=True)
class SimulationConfig:
    """How many listeners, how good, how fast, and how often they misbehave like real browsers do."""

    url: str
    """Base URL of the app (``http://127.0.0.1:8000``); the study link is ``/study/<id>/`` below it."""
    n: int = 10
    accuracy: float = 0.85
    """Probability of answering what the ear heard (see the module docstring)."""
    experiment_id: int | None = None
    """The study; None: the newest open study (where ``/`` redirects)."""
    seed: int = 0
    pace: float = 1.0
    """Multiplies every human delay: 1.0 listens to each clip for its full duration, 0 does not wait at all."""
    ramp_s: float = 0.0
    """Arrivals spread evenly over this many seconds (0: all at once, like a Prolific launch)."""
    replay_p: float = 0.3
    """Chance per trial of replaying one of X, A, B."""
    reload_p: float = 0.03
    """Chance per trial of reloading the task page mid-trial."""
    lost_reply_p: float = 0.03
    """Chance per answer of sending it again with the same id, as after a reply lost on the way back."""
    retry_for_s: float = 120.0
    """How long one request is retried (connection errors, time-outs, 5xx) before the listener gives up."""
    request_timeout_s: float = 30.0
    prolific: bool = True
    """Arrive with PROLIFIC_PID=sim-<run>-<n> (recognisable, and a retried consent resumes the same session)."""
    run_id: str | None = None
    """Part of the Prolific ids; default: random, so a second run in the same study gets new listeners."""
    max_steps: int = 500
    """Bound on pages + trials one listener goes through (a safety net: a normal session needs about 40)."""
    ear: str = "identity"
    """How a listener compares A and B with X (loadbot.ears): 'identity' (time-averaged spectra: hears which song,
    at chance on same-song trials by construction) or 'temporal' (the spectro-temporal pattern: hears when)."""
    ear_noise: float = 0.0
    """SD of the noise the temporal ear adds to each similarity (0: a perfect ear)."""
    simulation_key: str | None = None
    """The study's simulation key (experiment/simulation.py), sent on every request: the server then flags the
    sessions as simulated and lets them past its rate limits and per-address cap on places. None: arrive as
    anonymous visitors do (load tests of the limits themselves)."""
    forwarded_for: bool = False
    """Send X-Forwarded-For with an address of its own per listener (198.18.0.0/15, for tests): against a server
    with PROXY_HOPS=1 each simulated listener then counts as its own client for the per-address rate limits."""

    def check(self) -> None:
        """Refuse impossible settings with a message that names them."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LoadbotError(f"url={self.url!r} must be an http(s) URL such as http://127.0.0.1:8000")
        if not 1 <= self.n <= 10_000:
            raise LoadbotError(f"n={self.n} must be between 1 and 10000")
        for name in ("accuracy", "replay_p", "reload_p", "lost_reply_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise LoadbotError(f"{name}={value} must be between 0 and 1")
        for name in ("pace", "ramp_s", "retry_for_s", "request_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise LoadbotError(f"{name}={value} must be a finite number >= 0")
        if self.ear not in ("identity", "temporal"):
            raise LoadbotError(f"ear={self.ear!r} must be 'identity' or 'temporal'")
        if not (math.isfinite(self.ear_noise) and self.ear_noise >= 0):
            raise LoadbotError(f"ear_noise={self.ear_noise} must be a finite number >= 0")
        if self.experiment_id is not None and self.experiment_id < 1:
            raise LoadbotError(f"experiment_id={self.experiment_id} must be a positive study id")


@dataclass
class ListenerResult:
    """What one simulated listener did and saw."""

    index: int
    pid: str | None
    experiment_id: int | None = None
    outcome: str = "unfinished"
    """completed | timed_out | full | closed | already | failed | unfinished"""
    completion_code: str | None = None
    acked: dict[str, str] = field(default_factory=dict)
    """Answer id → trial, for every answer the server confirmed (first or repeated)."""
    repeats_confirmed: int = 0
    """Answers sent again on purpose with the same id that the server answered as `repeated`."""
    recovered: int = 0
    """Answers whose first reply was lost to a fault and whose retry came back `repeated` (committed once)."""
    scored_correct: list[bool] = field(default_factory=list)
    """Per scored answer, whether it was right: known only when the run was given the sessions' truth (`--db`)."""
    practice_feedback: list[bool] = field(default_factory=list)
    ear_on_practice: list[bool] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    connection_errors: int = 0
    unavailable: int = 0
    throttled: int = 0
    """429s (rate-limited) waited out."""
    server_errors: int = 0
    conflicts: int = 0
    reloads: int = 0
    replays: int = 0
    timed_out_trials: int = 0
    errors: list[str] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LATENCY_KINDS})
    started_s: float = 0.0
    finished_s: float = 0.0


@dataclass
class SimulationReport:
    """All listeners of one run, and the figures over them."""

    config: SimulationConfig
    listeners: list[ListenerResult]
    wall_s: float

    @property
    def acked(self) -> dict[str, str]:
        """Every confirmed answer id of the run (ids are per session, so prefixed by the listener's index)."""
        return {f"{r.index}:{k}": v for r in self.listeners for k, v in r.acked.items()}

    def latencies(self, kind: str) -> list[float]:
        """Every latency of one kind, in seconds."""
        return [x for r in self.listeners for x in r.latency[kind]]

    def summary(self) -> dict[str, Any]:
        """Counts and latency percentiles (ms) over the run: what the CLI prints and the benchmark checks."""
        rs = self.listeners
        practice = [x for r in rs for x in r.practice_feedback]
        ear = [x for r in rs for x in r.ear_on_practice]
        out: dict[str, Any] = {
            "listeners": len(rs), "wall_s": round(self.wall_s, 2),
            "outcomes": dict(Counter(r.outcome for r in rs)),
            "completed": sum(r.outcome == "completed" for r in rs),
            "listeners_with_errors": sum(bool(r.errors) for r in rs),
            "errors": [f"listener {r.index}: {e}" for r in rs for e in r.errors][:20],
            "answers_acked": sum(len(r.acked) for r in rs),
            "repeats_confirmed": sum(r.repeats_confirmed for r in rs),
            "recovered_after_fault": sum(r.recovered for r in rs),
            "requests": sum(r.requests for r in rs), "retries": sum(r.retries for r in rs),
            "connection_errors": sum(r.connection_errors for r in rs),
            "unavailable_503": sum(r.unavailable for r in rs), "throttled_429": sum(r.throttled for r in rs),
            "server_errors_5xx": sum(r.server_errors for r in rs),
            "conflicts_409": sum(r.conflicts for r in rs), "reloads": sum(r.reloads for r in rs),
            "replays": sum(r.replays for r in rs), "timed_out_trials": sum(r.timed_out_trials for r in rs),
            "practice_accuracy": round(sum(practice) / len(practice), 3) if practice else None,
            **scored_accuracy([x for r in rs for x in r.scored_correct]),
            "ear_on_practice": round(sum(ear) / len(ear), 3) if ear else None,
            "latency_ms": {},
        }
        for kind in LATENCY_KINDS:
            values = self.latencies(kind)
            if values:
                out["latency_ms"][kind] = {"n": len(values), "p50": percentile_ms(values, 50),
                                           "p99": percentile_ms(values, 99), "max": round(1000 * max(values), 1)}
        return out

    def as_dict(self) -> dict[str, Any]:
        """The summary plus one row per listener (with its confirmed answer ids), for `--report FILE`."""
        config = {k: ("(given)" if k == "simulation_key" and v else v) for k, v in vars(self.config).items()}
        return {"summary": self.summary(), "config": config,
                "listeners": [{
                    "index": r.index, "pid": r.pid, "experiment_id": r.experiment_id, "outcome": r.outcome,
                    "completion_code": r.completion_code, "acked": r.acked, "repeats_confirmed": r.repeats_confirmed,
                    "recovered": r.recovered, "requests": r.requests, "retries": r.retries,
                    "connection_errors": r.connection_errors, "unavailable": r.unavailable,
                    "server_errors": r.server_errors, "conflicts": r.conflicts, "reloads": r.reloads,
                    "replays": r.replays, "timed_out_trials": r.timed_out_trials, "errors": r.errors,
                } for r in self.listeners]}


class SimulationFailure(Exception):
    """One listener cannot go on (the server stayed away, or answered something a browser could not use)."""


def scored_accuracy(correct: list[bool]) -> dict[str, Any]:
    """Share of scored answers right, with its Wilson 95% interval (empty when the truth was not known)."""
    if not correct:
        return {}
    k, n, z = sum(correct), len(correct), 1.959964
    p = k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return {"scored_answers": n, "scored_accuracy": round(k / n, 4), "scored_accuracy_ci95": [round(lo, 4), round(hi, 4)]}


def percentile_ms(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of latencies in seconds, in ms."""
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return round(1000 * ordered[k], 1)
