"""Assignment: least-filled version (completed + active within the cap), quotas, no overfilling under load."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from experiment.db import make_engine, session_factory
from experiment.models import ParticipantSession, Version
from experiment.assignment import Prolific, assign
from experiment.study import create_experiment


def versions_of(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(n for (n,) in conn.execute(
                sa.select(Version.number).join(ParticipantSession, ParticipantSession.version_id == Version.id)))
    finally:
        engine.dispose()


def set_status(url, listener_filter, **values):
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(ParticipantSession).where(listener_filter).values(**values))
    finally:
        engine.dispose()


def test_alternates_between_versions_lowest_first(participant, study):
    numbers = []
    for _ in range(4):
        participant().start()
        numbers.append(versions_of(study.url))
    assert [dict(c) for c in numbers] == [{1: 1}, {1: 1, 2: 1}, {1: 2, 2: 1}, {1: 2, 2: 2}]


def test_expired_and_withdrawn_sessions_free_their_slot(participant, study, clock):
    participant().start()  # v1
    participant().start()  # v2
    set_status(study.url, ParticipantSession.id == 1, withdrawn=True)
    participant().start()  # v1 again: its only session is withdrawn
    assert versions_of(study.url) == {1: 2, 2: 1}
    clock.advance(31 * 60)  # everyone so far is past the cap without finishing
    participant().start()
    participant().start()
    assert versions_of(study.url) == {1: 3, 2: 2}


def test_completed_sessions_count_after_the_cap(participant, study, clock):
    participant().start()  # v1
    set_status(study.url, ParticipantSession.id == 1, status="completed")
    clock.advance(3600)
    participant().start()
    assert versions_of(study.url) == {1: 1, 2: 1}


def test_quota_full_page(study, clock, tmp_path, manifest_path):
    from experiment_client import Participant, make_app
    from experiment.webdb import engine_of

    small = type(study)(study.url, create_experiment(study.url, manifest_path, quota=1))
    app = make_app(small, clock, tmp_path)
    try:
        assert Participant(app, small.experiment_id).start().status_code == 302
        assert Participant(app, small.experiment_id).start().status_code == 302
        third = Participant(app, small.experiment_id)
        landing = third.page("")
        assert "study is full" in landing.get_data(as_text=True)
        response = third.start()
        assert response.status_code == 200 and "study is full" in response.get_data(as_text=True)
    finally:
        engine_of(app).dispose()


def test_closed_study_assigns_nobody(study, clock, tmp_path, manifest_path):
    from experiment_client import Participant, make_app
    from experiment.webdb import engine_of

    draft = type(study)(study.url, create_experiment(study.url, manifest_path, open_=False))
    app = make_app(draft, clock, tmp_path)
    try:
        p = Participant(app, draft.experiment_id)
        assert "not open" in p.page("").get_data(as_text=True)
        assert "not open" in p.start().get_data(as_text=True)
    finally:
        engine_of(app).dispose()


@pytest.mark.timeout(120)
def test_simultaneous_arrivals_never_overfill(study, clock):
    """30 threads arrive at once for 16 places: exactly 8 + 8 get in, the rest see 'full', nothing fails."""
    engine = make_engine(study.url, pool_size=30, max_overflow=5) if study.url.startswith("postgres") \
        else make_engine(study.url)
    sessions = session_factory(engine)
    barrier = threading.Barrier(30)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def arrive(i: int) -> None:
        try:
            with sessions() as db:
                barrier.wait()
                result = assign(db, study.experiment_id, now=clock.now, prolific=Prolific(pid=f"pid{i:03d}"))
                with lock:
                    outcomes.append(result.outcome)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert errors == []
    assert Counter(outcomes) == {"new": 16, "full": 14}
    assert versions_of(study.url) == {1: 8, 2: 8}


def test_same_prolific_id_twice_at_once_gives_one_session(study, clock):
    engine = make_engine(study.url)
    sessions = session_factory(engine)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def arrive() -> None:
        with sessions() as db:
            barrier.wait()
            outcomes.append(assign(db, study.experiment_id, now=clock.now, prolific=Prolific(pid="twice")).outcome)

    threads = [threading.Thread(target=arrive) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert sorted(outcomes) == ["moved"] * 5 + ["new"]  # the headphone check still lies ahead (issue 29)
    assert sum(versions_of(study.url).values()) == 1


def test_assignment_window_uses_the_cap(study, clock):
    engine = make_engine(study.url)
    try:
        with session_factory(engine)() as db:
            from experiment.models import Experiment

            experiment = db.get(Experiment, study.experiment_id)  # the cap alone (idle release: test_flood.py)
            experiment.settings = {**experiment.settings, "idle_release_s": None}
            db.commit()
            first = assign(db, study.experiment_id, now=clock.now)
            later = assign(db, study.experiment_id, now=clock.now + timedelta(minutes=29))
            latest = assign(db, study.experiment_id, now=clock.now + timedelta(minutes=31))
            assert [a.session.version.number for a in (first, later, latest)] == [1, 2, 1]
    finally:
        engine.dispose()


def test_preview_sessions_never_count(study, clock):
    from experiment.assignment import start_preview

    engine = make_engine(study.url)
    try:
        with session_factory(engine)() as db:
            preview = start_preview(db, study.experiment_id, 2, now=clock.now)
            db.commit()
            assert preview.preview and preview.version.number == 2
            assert assign(db, study.experiment_id, now=clock.now).session.version.number == 1
            assert assign(db, study.experiment_id, now=clock.now).session.version.number == 2
    finally:
        engine.dispose()
