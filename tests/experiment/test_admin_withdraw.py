"""Withdrawal (flag, keep, exclude) and erasure on request (delete, keep an audit row), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import sqlalchemy as sa

from admin_support import AdminClient, add_admin, fill, rows, scalar
from experiment.db import make_engine
from experiment.models import AdminUser, AuditLog, Event, ParticipantSession, Presentation, Questionnaire
from experiment.tidy import trial_table


def counts(url: str, session_id: int) -> dict[str, int]:
    return {name: scalar(url, sa.select(sa.func.count()).select_from(model).where(model.session_id == session_id))
            for name, model in (("presentations", Presentation), ("events", Event),
                                ("questionnaires", Questionnaire))}


def logged_in(app, url: str) -> AdminClient:
    add_admin(url)
    client = AdminClient(app)
    assert client.login().status_code == 302
    return client


def test_withdraw_flags_keeps_data_and_audits(app, study, clock):
    admin = logged_in(app, study.url)
    ids = fill(study.url, study.experiment_id, clock, {"keep": {}, "out": {"pid": "PIDW"}})
    before = counts(study.url, ids["out"])
    url = f"/admin/studies/{study.experiment_id}/participants/{ids['out']}"
    assert admin.get(url).status_code == 200
    response = admin.post(f"{url}/withdraw", {"reason": "asked by e-mail"})
    assert response.status_code == 302
    assert counts(study.url, ids["out"]) == before  # data kept
    (withdrawn, reason, when) = rows(study.url, sa.select(
        ParticipantSession.withdrawn, ParticipantSession.withdrawn_reason, ParticipantSession.withdrawn_utc)
        .where(ParticipantSession.id == ids["out"]))[0]
    assert withdrawn and reason == "asked by e-mail" and when == clock.now
    (user, action, target, detail, created) = rows(study.url, sa.select(
        AdminUser.username, AuditLog.action, AuditLog.target, AuditLog.detail, AuditLog.created_utc)
        .join(AdminUser, AdminUser.id == AuditLog.admin_user_id).where(AuditLog.action == "withdraw"))[0]
    assert (user, target, detail["reason"], created) == ("alice", f"session:{ids['out']}", "asked by e-mail",
                                                          clock.now)
    engine = make_engine(study.url)
    try:
        table = trial_table(engine, study.experiment_id)
    finally:
        engine.dispose()
    out = table[table["prolific_pid"] == "PIDW"]
    assert len(out) == 28 and out["withdrawn"].all() and set(out["session_status"]) == {"withdrawn"}
    assert not table[table["prolific_pid"] != "PIDW"]["withdrawn"].any()
    assert admin.post(f"{url}/withdraw", {}).status_code == 302  # twice: nothing new
    assert scalar(study.url, sa.select(sa.func.count()).select_from(AuditLog)
                  .where(AuditLog.action == "withdraw")) == 1
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "withdraw" in page and "alice" in page and f"session:{ids['out']}" in page


def test_erase_deletes_their_data_and_keeps_an_audit_row(app, study, clock, participant):
    admin = logged_in(app, study.url)
    ids = fill(study.url, study.experiment_id, clock, {"keep": {}, "erase": {"pid": "PIDE"}})
    kept_before = counts(study.url, ids["keep"])
    assert counts(study.url, ids["erase"])["questionnaires"] == 1
    url = f"/admin/studies/{study.experiment_id}/participants/{ids['erase']}"
    wrong = admin.post(f"{url}/erase", {"confirm": "nobody"})
    assert wrong.status_code == 400 and "type the listener id" in wrong.get_data(as_text=True)
    assert counts(study.url, ids["erase"])["presentations"] == 28
    listener = scalar(study.url, sa.select(ParticipantSession.listener).where(ParticipantSession.id == ids["erase"]))
    assert admin.post(f"{url}/erase", {"confirm": listener, "reason": "GDPR request"}).status_code == 302
    assert counts(study.url, ids["erase"]) == {"presentations": 0, "events": 0, "questionnaires": 0}
    assert counts(study.url, ids["keep"]) == kept_before
    stub = rows(study.url, sa.select(ParticipantSession.prolific_pid, ParticipantSession.withdrawn,
                                     ParticipantSession.withdrawn_reason, ParticipantSession.headphone_passed)
                .where(ParticipantSession.id == ids["erase"]))[0]
    assert stub[0] is None and stub[1] and stub[2].startswith("[erased]") and stub[3] is None
    (user_id, detail) = rows(study.url, sa.select(AuditLog.admin_user_id, AuditLog.detail)
                             .where(AuditLog.action == "erase"))[0]
    assert user_id is not None and detail["listener"] == listener and detail["deleted"]["presentations"] == 28
    assert "PIDE" not in json.dumps([list(r) for r in rows(study.url, sa.select(AuditLog.target, AuditLog.detail))])
    engine = make_engine(study.url)
    try:
        assert listener not in set(trial_table(engine, study.experiment_id)["listener"])
    finally:
        engine.dispose()
    page = admin.get(url).get_data(as_text=True)
    assert "erased" in page and "GDPR request" in page
    # a participant still in the middle of the study loses the session with their data
    p = participant()
    p.ready()
    active = scalar(study.url, sa.select(ParticipantSession.id).where(ParticipantSession.token == p.token))
    active_listener = scalar(study.url, sa.select(ParticipantSession.listener)
                             .where(ParticipantSession.id == active))
    response = admin.post(f"/admin/studies/{study.experiment_id}/participants/{active}/erase",
                          {"confirm": active_listener})
    assert response.status_code == 302
    assert p.api("GET", "state").status_code == 401


def test_a_withdrawn_participant_mid_task_is_stopped(app, study, participant):
    p = participant()
    p.ready()
    first = p.do_trial("A")
    assert first["state"]["trial"] is not None
    session_id = scalar(study.url, sa.select(ParticipantSession.id).where(ParticipantSession.token == p.token))
    admin = logged_in(app, study.url)
    assert admin.post(f"/admin/studies/{study.experiment_id}/participants/{session_id}/withdraw",
                      {"reason": "asked to stop"}).status_code == 302
    withdrawn_url = f"/study/{study.experiment_id}/withdrawn"
    assert p.state()["redirect"].endswith(withdrawn_url) and p.state()["trial"] is None
    refused = p.api("POST", "present", {"trial": first["state"]["trial"]["id"]})
    assert refused.status_code == 409 and refused.get_json()["error"] == "withdrawn"
    before = scalar(study.url, sa.select(sa.func.count()).select_from(Presentation)
                    .where(Presentation.session_id == session_id, Presentation.answer.is_not(None)))
    refused = p.answer("B", trial=first["state"]["trial"]["id"])
    assert refused.status_code == 409 and refused.get_json()["error"] == "withdrawn"
    assert refused.get_json()["state"]["redirect"].endswith(withdrawn_url)
    after = scalar(study.url, sa.select(sa.func.count()).select_from(Presentation)
                   .where(Presentation.session_id == session_id, Presentation.answer.is_not(None)))
    assert after == before == 1
    assert p.page("task").headers["Location"].endswith(withdrawn_url)
    page = p.page("withdrawn")
    assert page.status_code == 200 and "participation has ended" in page.get_data(as_text=True)
