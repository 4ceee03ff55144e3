"""Benchmark the AB-X platform on gunicorn + PostgreSQL: simultaneous arrivals, answer latency, SIGKILL recovery.

    .venv/bin/python benchmarks/bench_experiment.py [--pg URL] [--workers 3] [--threads 8]

1. 50 participants arrive at once (one barrier): version counts must differ by at most 1, no error.
2. 20 participants do the whole task concurrently: answer round trip median and p99 (also present and audio).
3. 6 participants mid-session, the whole server is SIGKILLed and restarted; clients retry with the same
   answer ids: afterwards every acknowledged answer is in the database once (0 lost, 0 duplicated).
Writes benchmarks/results/bench_experiment.json too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "experiment"), str(ROOT / "benchmarks")]  # the repo first

from experiment.db import make_engine  # noqa: E402
from experiment.models import ParticipantSession, Presentation, Version  # noqa: E402
from harness import Gunicorn, add_pg_option, fresh_database, make_study, write_results  # noqa: E402
from loadbot import percentile_ms  # noqa: E402

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def Server(url: str, instance: Path, workers: int, threads: int) -> Gunicorn:  # noqa: N802 - the old class name
    """gunicorn for this benchmark (every client is 127.0.0.1, so the per-address limits are lifted)."""
    return Gunicorn(url, instance, workers, threads, secret="bench-secret",
                    env={"TUNEBACK_RATE_LIMIT_ASSIGN": "100000 per minute",
                         "TUNEBACK_RATE_LIMIT_PARTICIPANT": "100000 per minute"})


class Client:
    """One participant's browser: cookies, CSRF token, retries with the same answer id."""

    def __init__(self, base: str, eid: int, think: tuple[float, float] = (0.0, 0.0)) -> None:
        self.http = requests.Session()
        self.think = think
        self.rng = random.Random(uuid.uuid4().int)
        self.base, self.eid = base, eid
        self.csrf = ""
        self.acked: dict[str, str] = {}  # answer id -> trial, once the server confirmed it
        self.latency: dict[str, list[float]] = {"answer": [], "present": [], "audio": []}
        self.retries = 0

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send, retrying connection failures and 5xx for up to 60 s (what abx.js does)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.http.request(method, self.base + path, timeout=10, **kwargs)
                if response.status_code < 500:
                    return response
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: server did not come back")
            self.retries += 1
            time.sleep(0.1)

    def page(self, path: str) -> requests.Response:
        response = self.call("GET", f"/study/{self.eid}/{path}")
        match = CSRF_RE.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        return self.call("POST", f"/study/{self.eid}/{path}", data={**data, "csrf_token": self.csrf},
                         allow_redirects=False)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[requests.Response, float]:
        t0 = time.perf_counter()
        response = self.call(method, f"/api/study/{self.eid}/{path}", json=body, headers={"X-CSRFToken": self.csrf})
        return response, time.perf_counter() - t0

    def arrive(self) -> str:
        """Landing, consent: returns where the consent POST redirected."""
        self.page("")
        self.page("consent")
        response = self.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"})
        if response.status_code != 302:
            raise RuntimeError(f"consent gave {response.status_code}: {response.text[:200]}")
        return response.headers["Location"]

    def prepare(self) -> None:
        self.arrive()
        self.page("headphones")
        assert self.post("headphones", {"volume": "0.8", **{f"t{k}": "1" for k in range(1, 7)}}).status_code == 302
        self.page("instructions")
        assert self.post("instructions", {}).status_code == 302
        self.page("task")

    def trials(self, stop_after: int | None = None) -> int:
        """Do trials until the end (or `stop_after`); returns how many were answered."""
        state = self.api("GET", "state")[0].json()
        done = 0
        while state.get("trial") is not None and (stop_after is None or done < stop_after):
            trial = state["trial"]["id"]
            response, dt = self.api("POST", "present", {"trial": trial})
            self.latency["present"].append(dt)
            state = response.json()
            if response.status_code != 200:
                state = state["state"]
                continue
            for url in state["trial"]["audio"].values():
                t0 = time.perf_counter()
                audio = self.call("GET", url)
                if audio.status_code == 200:
                    self.latency["audio"].append(time.perf_counter() - t0)
            if self.think[1] > 0:  # listening to X, A and B before answering
                time.sleep(self.rng.uniform(*self.think))
            answer_id = uuid.uuid4().hex
            response, dt = self.api("POST", "answer", {"trial": trial, "answer": "A", "id": answer_id})
            body = response.json()
            if response.status_code == 200:
                self.acked[answer_id] = trial
                self.latency["answer"].append(dt)
                done += 1
                state = body["state"]
            else:
                state = body.get("state") or self.api("GET", "state")[0].json()
        return done


def run_threads(n: int, target) -> list[BaseException]:  # noqa: ANN001
    """Run target(i) in n threads started together; return their errors."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def version_counts(engine, eid: int) -> dict[int, int]:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Version.number, sa.func.count(ParticipantSession.id))
                            .join(ParticipantSession, ParticipantSession.version_id == Version.id)
                            .where(Version.experiment_id == eid).group_by(Version.number)).all()
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pg_option(parser)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--arrivals", type=int, default=50)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--crash-participants", type=int, default=6)
    parser.add_argument("--think-min", type=float, default=1.0,
                        help="Shortest listening time per trial in the paced run, s (real listeners: ~5-20 s).")
    parser.add_argument("--think-max", type=float, default=3.0)
    args = parser.parse_args()

    results: dict = {"machine": {"cpus": os.cpu_count()}, "gunicorn": {"workers": args.workers, "threads": args.threads,
                                                                        "worker_class": "gthread"}}
    with fresh_database(args.pg, "tuneback_bench") as (_name, url, _admin), tempfile.TemporaryDirectory() as tmp:
        # its participants answer the headphone check blind (all 1s): keep them in rather than screen them out
        # it measures the server, not listening: answers are taken without play events (require_listening off)
        settings = {"headphone_screen_out": False, "require_listening": False,
                    "places_per_client": 0}  # one address, many listeners
        eid = make_study(url, Path(tmp), quota=1000, settings=settings)
        engine = make_engine(url)
        server = Server(url, Path(tmp) / "instance", args.workers, args.threads)
        results["startup_s"] = round(server.start(), 2)
        try:
            # 1. simultaneous arrivals --------------------------------------------------------------
            errors = run_threads(args.arrivals, lambda i: Client(server.base, eid).arrive())
            counts = version_counts(engine, eid)
            results["arrivals"] = {"n": args.arrivals, "errors": len(errors), "per_version": counts,
                                   "max_difference": max(counts.values()) - min(counts.values())}
            print(f"[1] {args.arrivals} simultaneous arrivals: per version {counts}, "
                  f"difference {results['arrivals']['max_difference']}, errors {len(errors)}", flush=True)

            # 2. concurrent participants: answer round trip, at a listener's pace and flat out ----------
            for label, think in (("paced", (args.think_min, args.think_max)), ("flat_out", (0.0, 0.0))):
                clients = [Client(server.base, eid, think) for _ in range(args.participants)]
                t0 = time.perf_counter()
                errors = run_threads(args.participants, lambda i, cs=clients: (cs[i].prepare(), cs[i].trials()))
                wall = time.perf_counter() - t0
                lat = {k: [x for c in clients for x in c.latency[k]] for k in ("answer", "present", "audio")}
                c = results[f"concurrent_{label}"] = {
                    "participants": args.participants, "think_s": list(think), "errors": len(errors),
                    "wall_s": round(wall, 2), **{f"{k}_n": len(v) for k, v in lat.items()},
                    **{f"{k}_median_ms": percentile_ms(v, 50) for k, v in lat.items()},
                    **{f"{k}_p99_ms": percentile_ms(v, 99) for k, v in lat.items()},
                }
                print(f"[2 {label}] {args.participants} concurrent participants (think {think[0]}-{think[1]} s per "
                      f"trial), {c['answer_n']} answers in {c['wall_s']} s, errors {len(errors)}: answer median "
                      f"{c['answer_median_ms']} ms, p99 {c['answer_p99_ms']} ms; present median "
                      f"{c['present_median_ms']} / p99 {c['present_p99_ms']} ms; audio (220 kB) median "
                      f"{c['audio_median_ms']} / p99 {c['audio_p99_ms']} ms", flush=True)

            # 3. SIGKILL mid-session ---------------------------------------------------------------
            crashers = [Client(server.base, eid) for _ in range(args.crash_participants)]
            for client in crashers:
                client.prepare()
                client.trials(stop_after=5)
            killed = threading.Event()

            def killer() -> None:
                time.sleep(0.4)
                server.kill()
                killed.set()
                time.sleep(1.0)
                results.setdefault("restart", {})["restart_s"] = round(server.start(), 2)

            k = threading.Thread(target=killer)
            k.start()
            errors = run_threads(len(crashers), lambda i: crashers[i].trials())
            k.join()
            acked = {a for crasher in crashers for a in crasher.acked}
            with engine.connect() as conn:
                rows = conn.execute(sa.select(Presentation.client_answer_id, Presentation.session_id)
                                    .where(Presentation.client_answer_id.in_(acked))).all()
                sessions = {r.session_id for r in rows}
                stored = conn.execute(sa.select(sa.func.count()).select_from(Presentation).where(
                    Presentation.session_id.in_(sessions), Presentation.answer.is_not(None))).scalar()
            in_db = Counter(r.client_answer_id for r in rows)
            lost = len(acked - set(in_db))
            duplicated = stored - len(acked) + sum(n - 1 for n in in_db.values() if n > 1)
            results["sigkill"] = {"participants": len(crashers), "killed": killed.is_set(), "errors": len(errors),
                                  "acknowledged": len(acked), "lost": lost, "duplicated": duplicated,
                                  "client_retries": sum(c.retries for c in crashers),
                                  "all_finished": all(len(c.acked) == 28 for c in crashers),
                                  "answers_stored": stored,
                                  **results.pop("restart", {})}
            s = results["sigkill"]
            print(f"[3] SIGKILL mid-session with {s['participants']} participants: restart {s.get('restart_s')} s, "
                  f"{s['client_retries']} client retries, {s['acknowledged']} answers acknowledged, lost {lost}, "
                  f"duplicated {duplicated}, all finished {s['all_finished']}, errors {len(errors)}", flush=True)
        finally:
            server.stop()
            engine.dispose()
    write_results("bench_experiment", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
