"""`loadbot.simulate` and `tuneback experiment simulate` against the live server (no browser)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from e2e_live import SECRET, free_port
from experiment.simulation import simulation_key
from experiment.models import ParticipantSession, Presentation
from loadbot import SimulationConfig, simulate
from tuneback.cli import main


def _answers(live, pids: list[str]) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """pid → {client answer id: trial key} as stored."""
    rows = live.rows(sa.select(ParticipantSession.prolific_pid, Presentation.client_answer_id, Presentation.practice,
                               Presentation.order_index)
                     .join(Presentation, Presentation.session_id == ParticipantSession.id)
                     .where(ParticipantSession.prolific_pid.in_(pids), Presentation.answer.is_not(None)))
    out: dict[str, dict[str, str]] = {pid: {} for pid in pids}
    for pid, answer_id, practice, index in rows:
        out[pid][answer_id] = f"{'p' if practice else 't'}{index}"
    return out


def test_simulated_listeners_finish_and_every_answer_counts_once(live_server):
    live = live_server
    config = SimulationConfig(url=live.base, n=6, accuracy=0.9, experiment_id=live.studies["main"], seed=11,
                              pace=0.02, reload_p=0.25, lost_reply_p=0.25, replay_p=0.5)
    report = simulate(config)
    s = report.summary()
    assert s["completed"] == 6 and s["listeners_with_errors"] == 0, s
    assert s["server_errors_5xx"] == s["connection_errors"] == s["conflicts_409"] == 0, s
    assert s["reloads"] > 0 and s["repeats_confirmed"] > 0 and s["replays"] > 0, s
    assert {r.completion_code for r in report.listeners} == {"E2EMAIN"}
    assert all(r.pid.startswith("sim-") for r in report.listeners)

    stored = _answers(live, [r.pid for r in report.listeners])
    for r in report.listeners:
        assert stored[r.pid] == r.acked and len(r.acked) == 28  # the database holds exactly what was confirmed
    scored = live.rows(sa.select(Presentation.correct).join(ParticipantSession)
                       .where(ParticipantSession.prolific_pid.in_(list(stored)), Presentation.practice.is_(False)))
    accuracy = sum(c for (c,) in scored) / len(scored)
    assert 0.75 <= accuracy <= 1.0  # 0.9 on clips the ear tells apart (144 trials)
    assert {s.status for s in live.rows(sa.select(ParticipantSession.status).where(
        ParticipantSession.prolific_pid.in_(list(stored))))} == {"completed"}


def test_the_cli_drives_the_api_and_writes_a_report(live_server, tmp_path, capsys):
    live = live_server
    report_path = tmp_path / "simulated.json"
    key = simulation_key(SECRET, live.studies["main"])
    main(["experiment", "simulate", "--url", live.base, "--n", "2", "--accuracy", "0.5", "--study",
          str(live.studies["main"]), "--seed", "3", "--pace", "0", "--report", str(report_path), "--key", key,
          "--db", live.db_url])  # no exit: success
    printed = json.loads(capsys.readouterr().out)
    assert printed["completed"] == 2 and printed["answers_acked"] >= 56
    saved = json.loads(report_path.read_text())
    assert [row["outcome"] for row in saved["listeners"]] == ["completed", "completed"]
    assert all(len(row["acked"]) == 28 for row in saved["listeners"])
    assert key not in report_path.read_text()  # the key is never written into the report
    pids = [row["pid"] for row in saved["listeners"]]
    flags = live.rows(sa.select(ParticipantSession.simulated).where(ParticipantSession.prolific_pid.in_(pids)))
    assert [f for (f,) in flags] == [True, True]


def test_without_a_study_id_listeners_go_where_the_root_link_sends_them(live_server):
    report = simulate(SimulationConfig(url=live_server.base, n=1, pace=0, seed=4))
    assert report.listeners[0].experiment_id == live_server.studies["main"]
    assert report.listeners[0].outcome == "completed"


def test_a_closed_study_turns_listeners_away(live_server):
    from experiment.db import make_engine, session_factory
    from experiment.models import Experiment

    live = live_server
    engine = make_engine(live.db_url)
    with session_factory(engine)() as db:
        db.get(Experiment, live.studies["capped"]).state = "closed"
        db.commit()
    engine.dispose()
    report = simulate(SimulationConfig(url=live.base, n=2, pace=0, experiment_id=live.studies["capped"]))
    assert [r.outcome for r in report.listeners] == ["closed", "closed"]
    assert not any(r.errors for r in report.listeners)
    engine = make_engine(live.db_url)
    with session_factory(engine)() as db:
        db.get(Experiment, live.studies["capped"]).state = "open"
        db.commit()
    engine.dispose()


def test_an_unreachable_server_fails_cleanly_and_quickly():
    t0 = time.monotonic()
    report = simulate(SimulationConfig(url=f"http://127.0.0.1:{free_port()}", n=2, pace=0, retry_for_s=0.5,
                                       experiment_id=1))
    assert time.monotonic() - t0 < 10
    assert [r.outcome for r in report.listeners] == ["failed", "failed"]
    assert all("no answer for" in r.errors[-1] for r in report.listeners)
    assert report.summary()["connection_errors"] >= 2


def test_a_prolific_id_that_finished_is_turned_away(live_server):
    config = SimulationConfig(url=live_server.base, n=1, pace=0, experiment_id=live_server.studies["main"],
                              run_id="again1", seed=9)
    assert simulate(config).listeners[0].outcome == "completed"
    second = simulate(config).listeners[0]  # the same Prolific id comes back
    assert second.outcome == "already" and not second.errors
