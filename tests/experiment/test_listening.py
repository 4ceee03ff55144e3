"""Proof of listening (issue 15): the server logs every audio fetch per presentation, and a study may refuse an
answer until X, A and B were fetched and played."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from experiment.models import Event
from experiment.listening import MAX_FETCHES_LOGGED
from experiment.study import create_experiment
from experiment.webdb import engine_of
from admin_support import rows as _rows
from experiment_client import Participant, Study, make_app


@pytest.fixture
def make_participant(database_url, manifest_path, clock, tmp_path):
    """A factory: a participant at the task of a fresh study made with these settings."""
    apps = []

    def make(**settings):
        study = Study(database_url, create_experiment(database_url, manifest_path, seed=1, settings=settings))
        app = make_app(study, clock, tmp_path)
        apps.append(app)
        p = Participant(app, study.experiment_id)
        p.ready()
        return study, p

    yield make
    for app in apps:
        engine_of(app).dispose()


def _play(p, trial, slots):
    body = {"events": [{"kind": "play", "slot": s, "trial": trial, "t": 1.0} for s in slots]}
    assert p.api("POST", "events", body).status_code == 200


def test_every_fetch_is_logged_with_its_presentation_slot_and_time(make_participant, clock):
    study, p = make_participant()
    state = p.present()
    clock.advance(2)
    urls = state["trial"]["audio"]
    assert p.client.get(urls["a"]).status_code == 200
    clock.advance(1)
    assert p.client.get(urls["x"], headers={"Range": "bytes=0-99"}).status_code == 206
    rows = _rows(study.url, sa.select(Event.presentation_id, Event.slot, Event.created_utc, Event.detail)
                 .where(Event.kind == "audio_fetch").order_by(Event.id))
    assert [r.slot for r in rows] == ["a", "x"]
    assert len({r.presentation_id for r in rows}) == 1 and rows[0].presentation_id is not None
    assert rows[1].created_utc == clock.now and (rows[1].created_utc - rows[0].created_utc).total_seconds() == 1
    assert rows[0].detail is None and rows[1].detail == {"range": "bytes=0-99"}


def test_fetch_log_is_capped_per_slot(make_participant):
    study, p = make_participant()
    url = p.present()["trial"]["audio"]["b"]
    for _ in range(MAX_FETCHES_LOGGED + 5):
        assert p.client.get(url, headers={"Range": "bytes=0-1"}).status_code == 206
    (n,) = _rows(study.url, sa.select(sa.func.count()).select_from(Event).where(Event.kind == "audio_fetch"))[0]
    assert n == MAX_FETCHES_LOGGED


def test_required_listening_refuses_answers_until_x_a_and_b_are_played(make_participant):
    study, p = make_participant(require_listening=True)
    state = p.present()
    trial, urls = state["trial"]["id"], state["trial"]["audio"]
    refused = p.answer("A", trial, listen=False)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "not_listened" and "not yet played: X, A, B" in body["message"]
    _play(p, trial, ("x", "a", "b"))  # the page says it played them, but the server never sent them
    assert "not yet played: X, A, B" in p.answer("A", trial, listen=False).get_json()["message"]
    for slot in ("x", "a"):
        assert p.client.get(urls[slot]).status_code == 200
    assert "not yet played: B" in p.answer("A", trial, listen=False).get_json()["message"]
    assert p.client.get(urls["b"]).status_code == 200
    ok = p.answer("A", trial, listen=False)
    assert ok.status_code == 200, ok.get_json()
    # the next trial starts from nothing: fetches and plays of the last one do not count
    nxt = ok.get_json()["state"]["trial"]["id"]
    p.present(nxt)
    assert p.answer("A", nxt, listen=False).status_code == 409


def test_fetched_but_not_played_is_refused(make_participant):
    study, p = make_participant(require_listening=True)
    state = p.present()
    trial = state["trial"]["id"]
    for url in state["trial"]["audio"].values():
        assert p.client.get(url).status_code == 200
    _play(p, trial, ("x", "b"))
    assert "not yet played: A" in p.answer("A", trial, listen=False).get_json()["message"]


def test_listening_is_required_by_default(make_participant):
    """Issue 29: an answer 1.1 s after X started, neither A nor B heard, was recorded (the setting was off)."""
    study, p = make_participant()
    trial = p.present()["trial"]["id"]
    assert p.answer("A", trial, listen=False).get_json()["error"] == "not_listened"


def test_a_study_may_turn_the_listening_check_off(make_participant):
    study, p = make_participant(require_listening=False)
    trial = p.present()["trial"]["id"]
    assert p.answer("A", trial, listen=False).status_code == 200


def test_the_whole_study_can_be_done_with_listening_required(make_participant):
    study, p = make_participant(require_listening=True)
    assert p.finish_trials()["stage"] == "questionnaire"
