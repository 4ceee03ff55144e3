"""Defect 4 of issue 14: no script fills a study. Consent and every participant route are rate-limited per
client, events are accepted only from an active session about trials it was shown and within a budget, a study
can admit only its own Prolific participants, a place held by someone idle is released, and one client (address)
takes at most the study's few new places per window, whatever Prolific ids it makes up."""

from __future__ import annotations

import sqlalchemy as sa

from experiment.db import make_engine
from experiment.models import Event, Experiment, ParticipantSession, Version
from experiment.places import REFUSED
from experiment.webdb import engine_of, get_db
from experiment_client import Participant, make_app

AGREE = {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"}


def count(url, model, *where) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()
    finally:
        engine.dispose()


def configure(app, study, **settings) -> None:
    """Change the study's recorded settings (and, with quota=, every version's quota)."""
    quota = settings.pop("quota", None)
    with app.app_context():
        db = get_db()
        experiment = db.get(Experiment, study.experiment_id)
        experiment.settings = {**experiment.settings, **settings}
        if quota is not None:
            for v in db.scalars(sa.select(Version).where(Version.experiment_id == study.experiment_id)):
                v.quota = quota
        db.commit()


def limited_app(study, clock, tmp_path, **limits):
    return make_app(study, clock, tmp_path, **limits)


def test_consent_is_rate_limited_per_address(study, clock, tmp_path):
    app = limited_app(study, clock, tmp_path, RATE_LIMIT_ASSIGN="3 per minute")
    try:
        outcomes = []
        for _ in range(6):  # a script: a fresh cookie-less client each time, one address
            bot = Participant(app, study.experiment_id, address="192.0.2.1")
            outcomes.append(bot.start().status_code)
        assert outcomes == [302, 302, 302, 429, 429, 429]
        refused = Participant(app, study.experiment_id, address="192.0.2.1")
        response = refused.start()
        assert "too many new participants" in response.get_data(as_text=True)
        assert response.headers.get("Retry-After")
        assert count(study.url, ParticipantSession) == 3
        elsewhere = Participant(app, study.experiment_id)  # another address is not held back by that one
        elsewhere.client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert elsewhere.start().status_code == 302
    finally:
        engine_of(app).dispose()


def test_every_participant_route_is_rate_limited_per_session(study, clock, tmp_path):
    app = limited_app(study, clock, tmp_path, RATE_LIMIT_PARTICIPANT="30 per minute")
    try:
        p = Participant(app, study.experiment_id)
        p.ready()
        statuses = [p.api("GET", "state").status_code for _ in range(40)]
        assert 429 in statuses and 200 in statuses
        assert p.api("POST", "events", {"events": [{"kind": "ready"}]}).status_code == 429
        other = Participant(app, study.experiment_id)  # the same address, another participant: own budget
        other.client.environ_base["REMOTE_ADDR"] = "192.0.2.8"
        other.ready()
        assert other.api("GET", "state").status_code == 200
    finally:
        engine_of(app).dispose()


def test_events_only_about_trials_shown(participant, study):
    p = participant()
    p.ready()
    p.present()
    assert p.api("POST", "events", {"events": [{"kind": "play", "slot": "x", "trial": "p1"}]}).status_code == 200
    response = p.api("POST", "events", {"events": [{"kind": "play", "slot": "x", "trial": "t7"}]})
    assert response.status_code == 409 and response.get_json()["error"] == "trial_not_shown"
    assert count(study.url, Event, Event.kind == "play") == 1


def test_events_only_while_the_session_is_active(participant, clock, study):
    p = participant()
    p.ready()
    clock.advance(31 * 60)  # out of time
    response = p.api("POST", "events", {"events": [{"kind": "play", "slot": "x"}]})
    assert response.status_code == 409 and response.get_json()["error"] == "not_active"
    assert count(study.url, Event, Event.kind == "play") == 0


def test_events_after_withdrawal_are_refused(participant, app, study):
    p = participant()
    p.ready()
    with app.app_context():
        db = get_db()
        db.query(ParticipantSession).filter_by(token=p.token).one().withdrawn = True
        db.commit()
    assert p.api("POST", "events", {"events": [{"kind": "ready"}]}).status_code == 409


def test_events_have_a_per_session_budget(participant, app, study):
    configure(app, study, events_per_session=150)
    p = participant()
    p.ready()
    batch = {"events": [{"kind": "visible"}] * 100}
    assert p.api("POST", "events", batch).status_code == 200
    response = p.api("POST", "events", batch)
    assert response.status_code == 409 and response.get_json()["error"] == "event_budget_spent"
    assert p.api("POST", "events", {"events": [{"kind": "visible"}] * 50}).status_code == 200
    assert p.api("POST", "events", {"events": [{"kind": "visible"}]}).status_code == 409


def test_a_study_can_require_a_prolific_id(participant, app, study):
    configure(app, study, require_prolific=True, prolific_study_id="S123")
    anonymous = participant()
    assert anonymous.page("").status_code == 403
    anonymous.page("consent")
    assert anonymous.post("consent", AGREE).status_code == 403
    wrong_study = participant()
    assert wrong_study.start("PROLIFIC_PID=p1&STUDY_ID=OTHER").status_code == 403
    assert count(study.url, ParticipantSession) == 0
    assert participant().start("PROLIFIC_PID=p1&STUDY_ID=S123&SESSION_ID=x").status_code == 302
    assert count(study.url, ParticipantSession) == 1


def test_a_place_held_by_someone_idle_is_released(participant, app, clock, study):
    configure(app, study, quota=1, idle_release_s=600)
    first, second = participant(), participant()
    assert first.start().status_code == second.start().status_code == 302
    late = participant()
    assert "full" in late.start().get_data(as_text=True).lower()
    clock.advance(9 * 60)
    first.page("headphones")  # first is still there; second has gone quiet
    clock.advance(2 * 60)
    third = participant()
    assert third.start().status_code == 302  # second's place (idle 11 min) went to a newcomer
    assert "full" in participant().start().get_data(as_text=True).lower()  # first's place still held


def test_the_last_trials_events_are_still_taken_after_its_answer(participant, study):
    p = participant()
    p.ready()
    state = p.finish_trials()
    assert state["redirect"].endswith("/questionnaire")  # trials done: status completed
    late = {"events": [{"kind": "ended", "slot": "b", "trial": "t24", "t": 9.0}]}
    assert p.api("POST", "events", late).status_code == 200


FORGED = "PROLIFIC_PID=forged-{k}&STUDY_ID=S123&SESSION_ID=s{k}"


def test_one_client_takes_at_most_its_places_whatever_ids_it_forges(app, clock, study):
    configure(app, study, require_prolific=True, prolific_study_id="S123", places_per_client=2)
    bot = "203.0.113.66"
    outcomes = [Participant(app, study.experiment_id, address=bot).start(FORGED.format(k=k)).status_code
                for k in range(3)]  # fresh browsers, one address, N + 1 made-up ids
    assert outcomes == [302, 302, 429]
    assert count(study.url, ParticipantSession) == 2
    assert Participant(app, study.experiment_id).start(FORGED.format(k=9)).status_code == 302  # another client
    back = Participant(app, study.experiment_id, address=bot)  # the first id again, in a new browser: resumes
    response = back.start(FORGED.format(k=0))
    assert response.status_code == 302 and response.headers["Location"].endswith("/headphones")
    assert count(study.url, ParticipantSession) == 3
    clock.advance(11 * 60)  # the window has passed: the address may bring someone new again
    assert Participant(app, study.experiment_id, address=bot).start(FORGED.format(k=5)).status_code == 302


def test_refused_consents_spend_the_clients_places_and_stop_writing(app, study):
    configure(app, study, require_prolific=True, prolific_study_id="S123", places_per_client=3)
    bot = "203.0.113.67"
    for _ in range(6):  # consents without a Prolific id: refused, each counted until the budget is spent
        assert Participant(app, study.experiment_id, address=bot).start().status_code == 403
    assert count(study.url, Event, Event.kind == REFUSED) == 3
    assert Participant(app, study.experiment_id, address=bot).start(FORGED.format(k=1)).status_code == 429
    assert count(study.url, ParticipantSession) == 0


def test_no_raw_address_is_stored(app, study):
    configure(app, study, places_per_client=3)
    Participant(app, study.experiment_id, address="203.0.113.68").start()
    with app.app_context():
        details = [e.detail for e in get_db().query(Event).filter_by(kind="consent")]
    assert details and all("203.0.113.68" not in str(d) and len(d["client"]) == 32 for d in details)


def test_the_cap_can_be_turned_off_for_a_lab(app, study):
    configure(app, study, places_per_client=0)
    lab = [Participant(app, study.experiment_id, address="10.0.0.1").start().status_code for _ in range(5)]
    assert lab == [302] * 5


def test_simultaneous_forged_consents_from_one_client_share_its_places(postgres_url, manifest_path, clock, tmp_path,
                                                                     monkeypatch):
    import threading
    import time

    import experiment.assignment as assignment_module
    from experiment.study import create_experiment
    from experiment_client import Study

    study = Study(postgres_url, create_experiment(postgres_url, manifest_path, seed=1,
                                                  settings={"places_per_client": 2}))
    app = make_app(study, clock, tmp_path)
    real_spent = assignment_module.spent

    def slow_spent(*args, **kwargs):  # widen the gap between counting and inserting: only a lock closes it
        result = real_spent(*args, **kwargs)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(assignment_module, "spent", slow_spent)
    try:
        bots = [Participant(app, study.experiment_id, address="203.0.113.69") for _ in range(5)]
        for k, bot in enumerate(bots):
            bot.page(f"?PROLIFIC_PID=race-{k}")
            bot.page("consent")
        barrier, statuses = threading.Barrier(len(bots)), []

        def go(bot):
            barrier.wait()
            statuses.append(bot.post("consent", AGREE).status_code)

        threads = [threading.Thread(target=go, args=(bot,)) for bot in bots]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(statuses) == [302, 302, 429, 429, 429]
        assert count(study.url, ParticipantSession) == 2
    finally:
        engine_of(app).dispose()
