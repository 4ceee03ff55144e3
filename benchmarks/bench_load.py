"""Load, faults and integrity: N simulated participants against gunicorn + PostgreSQL, with crashes on the way.

    .venv/bin/python benchmarks/bench_load.py [--n 200] [--pace 0.25] [--workers 4] [--threads 8] [--no-faults]

1. A fresh PostgreSQL database; a study from the synthetic manifest with contract-sized clips (5 s, 22 050 Hz,
   16-bit mono: 220 kB each); gunicorn (gthread) in its own process group on a free loopback port.
2. N listeners (loadbot: real HTTP, realistic behaviour scaled by --pace, replays, reloads,
   answers re-sent with the same id) arrive over --ramp seconds and each does the whole study.
3. Faults while they run (unless --no-faults): at --kill-at of the expected duration one gunicorn worker gets
   SIGKILL (the master starts a new one); at --restart-at PostgreSQL is restarted (--pg-restart) while
   sessions are mid-trial (--pg-down S: stopped for S seconds, then started). The clients retry with the
   same answer ids.
   Meanwhile (unless --no-flood) a script hammers consent and events from one address (benchmarks/flood.py):
   the study requires a Prolific id with its STUDY_ID, every listener comes from an address of its own
   (X-Forwarded-For behind PROXY_HOPS=1), and the per-address and per-session limits are the defaults but the
   study's cap on new places per client: 1 per address per hour (each listener is a person at home). The flood's
   refused id-less consents spend its address's budget, so its forged ids must take no place at all.
4. Afterwards, counted from both sides: every answer a client saw confirmed is in the database exactly once,
   the database holds no answer the clients did not send, every listener finished, no 5xx but the 503s of
   the restart, no unhandled error in the server log; p50/p99 of answer and audio requests.

Everything is bounded (a deadline for the whole run, per-request retry limits) and stays on 127.0.0.1.
Restarting PostgreSQL interrupts anything else using that server; the run lists other databases with open
connections first. Writes benchmarks/results/bench_load.json.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "experiment"), str(ROOT / "benchmarks")]

from experiment.db import make_engine, session_factory  # noqa: E402
from experiment.models import ParticipantSession, Presentation  # noqa: E402
from flood import USER_AGENT as FLOOD_UA  # noqa: E402
from flood import flood  # noqa: E402
from harness import RESULTS, Gunicorn, add_pg_option, fresh_database, make_study, write_results  # noqa: E402
from loadbot import SimulationConfig, percentile_ms, simulate  # noqa: E402

PG_RESTART = "pg_ctlcluster --skip-systemctl-redirect 15 main restart"
PG_STOP = "pg_ctlcluster --skip-systemctl-redirect 15 main stop"
PG_START = "pg_ctlcluster --skip-systemctl-redirect 15 main start"


def Server(url: str, folder: Path, workers: int, threads: int) -> Gunicorn:  # noqa: N802 - the old class name
    """gunicorn for this benchmark, logging to a file; client addresses from X-Forwarded-For (one per listener)."""
    return Gunicorn(url, folder / "instance", workers, threads, secret="bench-load-secret",
                    env={"TUNEBACK_PROXY_HOPS": "1"}, log_path=folder / "gunicorn.log",
                    extra_args=("--timeout", "60", "--backlog", "2048"))


def expected_duration_s(pace: float, clip_s: float = 5.0) -> float:
    """Rough length of one simulated session at `pace` (the midpoints of loadbot's delays)."""
    before = 20 + 5.5 + 1.5 * 3 + 6 * (3.5 + 1) + 10  # consent, headphones (noise + 6 sounds), instructions
    trial = 3 * (clip_s + 0.9) + 0.3 * clip_s + 2.5 + 0.5  # X, A, B, a replay now and then, deciding, feedback
    return pace * (before + 28 * trial + 40 + 3.5)


def other_databases(admin: sa.Engine, ours: str) -> dict[str, int]:
    """Other databases with client connections right now (a restart will interrupt them)."""
    with admin.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT datname, count(*) FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> :ours "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY datname"), {"ours": ours})
        return {name: n for name, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pg_option(parser)
    parser.add_argument("--n", type=int, default=200, help="Simulated participants.")
    parser.add_argument("--pace", type=float, default=0.25,
                        help="Human delays × this (1 = real time: a 5-s clip is listened to for 5 s).")
    parser.add_argument("--ramp", type=float, default=20.0, help="Arrivals spread over this many seconds.")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--accuracy", type=float, default=0.85)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-faults", action="store_true", help="No worker kill, no database restart.")
    parser.add_argument("--no-flood", action="store_true", help="No consent/events flood during the run.")
    parser.add_argument("--kill-at", type=float, default=0.3, help="Fraction of the expected run: SIGKILL a worker.")
    parser.add_argument("--restart-at", type=float, default=0.55, help="Fraction of the run: restart PostgreSQL.")
    parser.add_argument("--pg-restart", default=PG_RESTART, help="Command that restarts the PostgreSQL server.")
    parser.add_argument("--pg-down", type=float, default=0.0,
                        help="Instead of the restart command: stop PostgreSQL (--pg-stop), wait this many seconds, "
                             "start it (--pg-start); a plain restart is down for well under a second.")
    parser.add_argument("--pg-stop", default=PG_STOP)
    parser.add_argument("--pg-start", default=PG_START)
    parser.add_argument("--deadline", type=float, default=1500.0, help="Give up on the whole run after this, s.")
    args = parser.parse_args()

    expected = expected_duration_s(args.pace) + args.ramp
    results: dict = {"machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
                     "settings": {**vars(args), "expected_session_s": round(expected_duration_s(args.pace), 1)},
                     "faults": {}}
    with fresh_database(args.pg, "tuneback_load") as (name, url, admin), tempfile.TemporaryDirectory() as tmp:
        print(f"[setup] database {name}; {args.n} listeners at pace {args.pace} "
              f"(~{expected_duration_s(args.pace):.0f} s each, arrivals over {args.ramp:.0f} s)", flush=True)
        folder = Path(tmp)
        eid = make_study(url, folder, quota=100_000, seed=args.seed)
        _admit_only_prolific(url, eid)
        server = Server(url, folder, args.workers, args.threads)
        engine = make_engine(url)
        try:
            results["startup_s"] = round(server.start(), 2)
            config = SimulationConfig(url=server.base, n=args.n, accuracy=args.accuracy, experiment_id=eid,
                                      seed=args.seed, pace=args.pace, ramp_s=args.ramp, retry_for_s=180.0,
                                      forwarded_for=True)
            stop_flood = threading.Event()
            flood_counts: dict = {}
            flooder = threading.Thread(target=lambda: flood_counts.update(
                flood(server.base, eid, stop_flood, SIMULATED_STUDY_ID)), daemon=True)
            if not args.no_flood:
                flooder.start()
            holder: dict = {}
            finished = Counter()
            runner = threading.Thread(target=lambda: holder.setdefault("report", simulate(
                config, on_done=lambda r: finished.update([r.outcome]))), daemon=True)
            t0 = time.monotonic()
            runner.start()
            if not args.no_faults:
                _faults(args, server, admin, engine, eid, name, t0, expected, results["faults"])
            runner.join(timeout=max(1.0, args.deadline - (time.monotonic() - t0)))
            stop_flood.set()
            if runner.is_alive():
                raise SystemExit(f"the run passed its {args.deadline:.0f}-s deadline ({dict(finished)} finished)")
            if not args.no_flood:
                flooder.join(60)
            report = holder["report"]
            results.update(_figures(report, engine, eid, server))
            if not args.no_flood:
                results["flood"] = _flood_figures(flood_counts, engine, eid)
        finally:
            server.stop()
            engine.dispose()
    results["machine"]["loadavg_after"] = os.getloadavg()
    write_results("bench_load", results)
    _print(results)
    ok = results["integrity"]["ok"] and results["errors"]["ok"] and results.get("flood", {}).get("ok", True)
    sys.exit(0 if ok else 1)


SIMULATED_STUDY_ID = "simulated"
"""The STUDY_ID loadbot's listeners arrive with."""


BENCH_PLACES = {"places_per_client": 1, "places_window_s": 3600}
"""The study's budget of new places per client address: one per hour (every listener has an address of its own)."""


def _admit_only_prolific(url: str, eid: int) -> None:
    """The study admits only Prolific arrivals with its STUDY_ID, and one new place per address an hour."""
    from experiment.models import Experiment

    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            experiment = db.get(Experiment, eid)
            experiment.settings = {**experiment.settings, "require_prolific": True,
                                   "prolific_study_id": SIMULATED_STUDY_ID, **BENCH_PLACES}
            db.commit()
    finally:
        engine.dispose()


def _flood_figures(counts: dict, engine: sa.Engine, eid: int) -> dict:
    """What the flood tried, what the server answered, and what it got: places and stored events."""
    from experiment.models import Event

    with engine.connect() as conn:
        flood_sessions = conn.execute(sa.select(sa.func.count()).select_from(ParticipantSession).where(
            ParticipantSession.experiment_id == eid, ParticipantSession.user_agent == FLOOD_UA)).scalar()
        no_id_sessions = conn.execute(sa.select(sa.func.count()).select_from(ParticipantSession).where(
            ParticipantSession.experiment_id == eid, ParticipantSession.user_agent == FLOOD_UA,
            ParticipantSession.prolific_pid.is_(None))).scalar()
        flood_events = conn.execute(sa.select(sa.func.count()).select_from(Event).join(
            ParticipantSession, Event.session_id == ParticipantSession.id).where(
            ParticipantSession.user_agent == FLOOD_UA, Event.kind.in_(["play", "visible"]))).scalar()
    attempts = {k: v for k, v in sorted(counts.items())}
    forged = sum(v for k, v in counts.items() if k.startswith("forged_id_"))
    out = {"requests_by_outcome": attempts, "consent_attempts": forged + sum(
               v for k, v in counts.items() if k.startswith("no_id_")),
           "places_taken_without_prolific_id": no_id_sessions, "places_taken_with_forged_ids": flood_sessions,
           "forged_id_attempts": forged, "events_stored_for_flood_sessions": flood_events,
           "places_per_client": BENCH_PLACES["places_per_client"]}
    out["ok"] = no_id_sessions == 0 and counts.get("no_id_302", 0) == 0 and flood_sessions == 0
    return out


def _faults(args, server: Server, admin: sa.Engine, engine: sa.Engine, eid: int, name: str, t0: float,  # noqa: ANN001
            expected: float, out: dict) -> None:
    """Kill a worker, then restart PostgreSQL, at their moments; record what happened."""
    def wait_until(fraction: float) -> None:
        time.sleep(max(0.0, t0 + fraction * expected - time.monotonic()))

    def in_task() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(ParticipantSession).where(
                ParticipantSession.experiment_id == eid, ParticipantSession.stage == "task")).scalar()

    wait_until(args.kill_at)
    before = server.workers()
    victim = before[len(before) // 2]
    at_kill = in_task()
    os.kill(victim, signal.SIGKILL)
    t_kill = time.monotonic()
    replaced = None
    while time.monotonic() - t_kill < 30:
        now = server.workers()
        if victim not in now and len(now) == len(before):
            replaced = round(time.monotonic() - t_kill, 2)
            break
        time.sleep(0.05)
    out["worker_sigkill"] = {"at_s": round(t_kill - t0, 1), "pid": victim, "workers": len(before),
                             "sessions_in_task": at_kill, "replaced_after_s": replaced}
    print(f"[fault] SIGKILL worker {victim} at {t_kill - t0:.0f} s with {at_kill} sessions in the task; "
          f"replaced after {replaced} s", flush=True)

    wait_until(args.restart_at)
    others = other_databases(admin, name)
    if others:
        print(f"[fault] note: other databases have connections and will be interrupted too: {others}", flush=True)
    at_restart = in_task()
    t_restart = time.monotonic()
    admin.dispose()
    if args.pg_down > 0:
        command = f"{args.pg_stop} && sleep {args.pg_down} && {args.pg_start}"
    else:
        command = args.pg_restart
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t_restart
    out["postgres_restart"] = {"at_s": round(t_restart - t0, 1), "command": command,
                               "exit_code": done.returncode, "took_s": round(took, 2),
                               "sessions_in_task": at_restart, "other_databases_connected": others,
                               "stderr": done.stderr.strip()[-300:]}
    print(f"[fault] PostgreSQL restarted at {t_restart - t0:.0f} s with {at_restart} sessions in the task "
          f"({took:.1f} s, exit {done.returncode})", flush=True)


def _figures(report, engine: sa.Engine, eid: int, server: Server) -> dict:  # noqa: ANN001
    """Client-side and database-side counts, their comparison, latencies."""
    summary = report.summary()
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(ParticipantSession.prolific_pid, Presentation.client_answer_id, Presentation.practice,
                      Presentation.order_index)
            .join(Presentation, Presentation.session_id == ParticipantSession.id)
            .where(ParticipantSession.experiment_id == eid, Presentation.answer.is_not(None))).all()
        statuses = dict(conn.execute(sa.select(ParticipantSession.status, sa.func.count())
                                     .where(ParticipantSession.experiment_id == eid)
                                     .group_by(ParticipantSession.status)).all())
        timed_out = conn.execute(sa.select(sa.func.count()).select_from(Presentation).join(ParticipantSession).where(
            ParticipantSession.experiment_id == eid, Presentation.timed_out.is_(True))).scalar()
    in_db = Counter((pid, answer_id) for pid, answer_id, _, _ in stored)
    trial_of = {(pid, answer_id): f"{'p' if practice else 't'}{index}" for pid, answer_id, practice, index in stored}
    acked = {(r.pid, answer_id): trial for r in report.listeners for answer_id, trial in r.acked.items()}
    lost = [k for k in acked if k not in in_db]
    duplicated = sum(n - 1 for n in in_db.values() if n > 1) + sum(
        1 for k, trial in acked.items() if k in trial_of and trial_of[k] != trial)
    phantom = [k for k in in_db if k not in acked]
    log_text = server.log_path.read_text(errors="replace")
    unhandled = log_text.count("unhandled error")
    if unhandled or "Traceback" in log_text:  # keep the evidence: the temporary folder goes with the run
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_load.gunicorn.log").write_text(log_text)
    database_errors = log_text.count("database error")  # each one a 503 + Retry-After while PostgreSQL was away
    integrity = {
        "answers_acknowledged_by_clients": len(acked), "answers_in_database": len(stored),
        "lost": len(lost), "duplicated": duplicated, "in_database_not_acknowledged": len(phantom),
        "listeners": len(report.listeners), "listeners_finished": summary["completed"],
        "sessions_by_status": statuses, "trials_timed_out": timed_out,
        "repeats_confirmed": summary["repeats_confirmed"], "recovered_after_fault": summary["recovered_after_fault"],
    }
    integrity["ok"] = (len(acked) == len(stored) and not lost and not duplicated and not phantom
                       and summary["completed"] == len(report.listeners))
    errors = {"listeners_with_errors": summary["listeners_with_errors"], "http_500": summary["server_errors_5xx"],
              "unhandled_errors_in_server_log": unhandled, "unavailable_503_retried": summary["unavailable_503"],
              "database_errors_in_server_log": database_errors,
              "connection_errors_retried": summary["connection_errors"], "retries": summary["retries"],
              "conflicts_409": summary["conflicts_409"], "first_errors": summary["errors"][:5],
              "unhandled_kinds": unhandled_kinds(log_text)}
    errors["ok"] = not (errors["listeners_with_errors"] or errors["http_500"] or unhandled)
    latency = {}
    for kind in ("answer", "answer_e2e", "audio", "present", "page", "events", "state"):
        values = report.latencies(kind)
        if values:
            latency[kind] = {"n": len(values), "p50_ms": percentile_ms(values, 50),
                             "p99_ms": percentile_ms(values, 99), "max_ms": round(1000 * max(values), 1)}
    return {"wall_s": round(report.wall_s, 1), "requests": summary["requests"],
            "requests_per_s": round(summary["requests"] / report.wall_s, 1), "integrity": integrity,
            "errors": errors, "latency": latency, "reloads": summary["reloads"], "replays": summary["replays"]}


def unhandled_kinds(log_text: str) -> dict[str, int]:
    """How often each exception ends an "unhandled error" traceback in the server log (what to fix first)."""
    kinds: Counter = Counter()
    for block in log_text.split("unhandled error")[1:]:
        last = "?"
        for line in block.splitlines()[1:]:
            if EXCEPTION_LINE.match(line):
                last = line[:200]
            elif line and not line.startswith((" ", "\t", "Traceback", "The above", "During handling")):
                break  # the next log record: this traceback is over
        kinds[last] += 1
    return dict(kinds.most_common(10))


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Timeout)\w*(:|$)")


def _print(r: dict) -> None:
    i, e, lat = r["integrity"], r["errors"], r["latency"]
    print(f"[run] {i['listeners']} listeners, {r['requests']} requests in {r['wall_s']} s "
          f"({r['requests_per_s']}/s); finished {i['listeners_finished']}; reloads {r['reloads']}")
    for kind in ("answer", "audio", "present"):
        if kind in lat:
            print(f"[latency] {kind:7s} n={lat[kind]['n']:6d}  p50 {lat[kind]['p50_ms']:7.1f} ms  "
                  f"p99 {lat[kind]['p99_ms']:8.1f} ms  max {lat[kind]['max_ms']:8.1f} ms")
    print(f"[integrity] acknowledged {i['answers_acknowledged_by_clients']}, in database {i['answers_in_database']}, "
          f"lost {i['lost']}, duplicated {i['duplicated']}, unacknowledged {i['in_database_not_acknowledged']}, "
          f"sessions {i['sessions_by_status']}, repeats confirmed {i['repeats_confirmed']}, recovered after a fault "
          f"{i['recovered_after_fault']} -> {'OK' if i['ok'] else 'FAILED'}")
    print(f"[errors] listeners with errors {e['listeners_with_errors']}, HTTP 500 {e['http_500']}, unhandled in log "
          f"{e['unhandled_errors_in_server_log']}; retried: 503 {e['unavailable_503_retried']} (server logged "
          f"{e['database_errors_in_server_log']} database errors), connection errors "
          f"{e['connection_errors_retried']} -> {'OK' if e['ok'] else 'FAILED'}")
    for kind, count in e["unhandled_kinds"].items():
        print(f"[errors]   {count} x {kind}  (server log: benchmarks/results/bench_load.gunicorn.log)")
    if "flood" in r:
        f = r["flood"]
        print(f"[flood] {f['consent_attempts']} consent attempts: places without a Prolific id "
              f"{f['places_taken_without_prolific_id']}, with forged ids {f['places_taken_with_forged_ids']} of "
              f"{f['forged_id_attempts']} tried (cap {f['places_per_client']} per client); flood events stored {f['events_stored_for_flood_sessions']}; "
              f"{f['requests_by_outcome']} -> {'OK' if f['ok'] else 'FAILED'}")
    for key, fault in r["faults"].items():
        print(f"[fault] {key}: {fault}")


if __name__ == "__main__":
    main()
