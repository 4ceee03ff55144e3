"""Defect 1 of issue 14: on PostgreSQL, a request applying the time limits can never overwrite an answer
another request committed and acknowledged within the grace.

Two threads hit a real PostgreSQL server through the app. The time-out request is held, right after it
has read the trial, until the answer request has had its reply (or up to HOLD_S): a writer that reads
without the session lock then lands its time-out on the acknowledged answer, one that holds the lock
makes the answer wait and be refused with a 409 instead.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

import experiment.timing as timing_module
from experiment.models import Event, Presentation
from experiment.study import create_experiment
from experiment.webdb import engine_of
from experiment_client import Participant, Study, make_app

HOLD_S = 1.5
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


class ThreadClock:
    """The app's clock, settable per thread: each racing request sees its own arrival time."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __call__(self) -> datetime:
        return getattr(self.local, "now", T0)


def _twin(p: Participant):
    """A second test client carrying the same browser cookie (one browser, two concurrent requests)."""
    client = p.app.test_client()
    cookie = p.client.get_cookie("tuneback")
    client.set_cookie("tuneback", cookie.value)
    return client


ROUTES = {
    "task page": lambda c, p, urls: c.get(f"/study/{p.eid}/task"),
    "time-up page": lambda c, p, urls: c.get(f"/study/{p.eid}/time-up"),
    "audio": lambda c, p, urls: c.get(urls["x"]),
    "409 handler": lambda c, p, urls: c.post(f"/api/study/{p.eid}/present", json={"trial": "t24"},
                                             headers={"X-CSRFToken": p.csrf}),
    "state": lambda c, p, urls: c.get(f"/api/study/{p.eid}/state", headers={"X-CSRFToken": p.csrf}),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_late_time_out_never_overwrites_an_acknowledged_answer(route, postgres_url, manifest_path, tmp_path,
                                                                  monkeypatch):
    study = Study(postgres_url, create_experiment(postgres_url, manifest_path, seed=1))
    clock = ThreadClock()
    app = make_app(study, clock, tmp_path)
    try:
        p = Participant(app, study.experiment_id)
        p.ready()
        urls = p.present("p1")["trial"]["audio"]
        p.listen({"trial": {"id": "p1", "audio": urls}}, "p1")  # studies require X, A and B played (issue 29)
        timer_client, answer_client = _twin(p), _twin(p)

        timer_in_read, answered = threading.Event(), threading.Event()
        timer_thread: list[int] = []
        real_presentations = timing_module.presentations

        def held_presentations(db, s):  # noqa: ANN001, ANN202 - the wrapped library function
            plan = real_presentations(db, s)
            if threading.get_ident() in timer_thread:
                timer_in_read.set()
                answered.wait(HOLD_S)
            return plan

        monkeypatch.setattr(timing_module, "presentations", held_presentations)
        results: dict[str, object] = {}

        def timer() -> None:
            timer_thread.append(threading.get_ident())
            clock.local.now = T0 + timedelta(seconds=61.5)  # past the limit and the 1-s grace
            results["timer"] = ROUTES[route](timer_client, p, urls).status_code

        def answerer() -> None:
            assert timer_in_read.wait(20), "the time-out request never read the trial"
            clock.local.now = T0 + timedelta(seconds=60.5)  # sent within the grace
            response = answer_client.post(f"/api/study/{p.eid}/answer", headers={"X-CSRFToken": p.csrf},
                                          json={"trial": "p1", "answer": "A", "id": uuid.uuid4().hex})
            results["answer"] = (response.status_code, response.get_json())
            answered.set()

        threads = [threading.Thread(target=timer), threading.Thread(target=answerer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        monkeypatch.setattr(timing_module, "presentations", real_presentations)

        assert results["timer"] < 500
        status, body = results["answer"]
        with engine_of(app).connect() as conn:
            row = conn.execute(sa.select(Presentation).where(Presentation.order_index == 1,
                                                             Presentation.practice.is_(True))).one()
            timeouts = conn.execute(sa.select(sa.func.count()).select_from(Event).where(
                Event.kind == "timeout", Event.presentation_id == row.id)).scalar()
        if status == 200:  # acknowledged: the answer stands exactly as recorded
            assert body["recorded"] and body["answer"] == "A"
            assert (row.answer, row.timed_out, row.correct) == ("A", False, row.correct_side == "A")
            assert timeouts == 0
        else:  # refused: then, and only then, the trial is a time-out
            assert status == 409 and body["error"] == "trial_timed_out", body
            assert (row.answer, row.timed_out, row.correct) == (None, True, False)
            assert timeouts == 1
    finally:
        engine_of(app).dispose()


def test_a_time_out_is_conditional_on_no_answer(postgres_url, manifest_path, tmp_path):
    """Even a caller that skips the lock cannot turn an answered trial into a time-out (the UPDATE's guard)."""
    from experiment.session_rows import load
    from experiment.timing import _time_out

    study = Study(postgres_url, create_experiment(postgres_url, manifest_path, seed=1))
    app = make_app(study, ThreadClock(), tmp_path)
    try:
        p = Participant(app, study.experiment_id)
        p.ready()
        p.present("p1")
        with app.app_context():
            from experiment.webdb import get_db

            db = get_db()
            s = load(db, study.experiment_id, p.token, lock=False)
            stale = timing_module.presentations(db, s)[0]
            db.commit()
            assert p.answer("B", "p1").status_code == 200  # committed by another request meanwhile
            assert _time_out(db, s, stale, T0 + timedelta(seconds=70)) is False
            db.commit()
            row = db.get(Presentation, stale.id)
            db.refresh(row)
            assert (row.answer, row.timed_out) == ("B", False)
    finally:
        engine_of(app).dispose()
