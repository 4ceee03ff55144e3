"""'Stop and withdraw' in the participant flow (issue 15): on every stage page, confirmed by a POST with its CSRF
token, ends the session as withdrawn, keeps the audit trail, frees the place and drops out of the analysis."""

from __future__ import annotations

import sqlalchemy as sa

from admin_support import rows as _rows
from experiment.models import AuditLog, Event, ParticipantSession, Presentation
from experiment.assignment import occupancy
from experiment.session_end import PARTICIPANT_WITHDRAWAL
from experiment.tidy import trial_table
from experiment.webdb import engine_of, get_db

def _has_link(p, path: str) -> bool:
    page = p.page(path)
    assert page.status_code == 200, (path, page.status_code)
    return f'href="/study/{p.eid}/withdraw"' in page.get_data(as_text=True)


def test_every_stage_page_links_to_withdrawal(participant):
    p = participant()
    p.start()
    assert _has_link(p, "headphones")
    p.headphones()
    assert _has_link(p, "instructions")
    p.instructions()
    assert _has_link(p, "task")
    p.finish_trials()
    assert _has_link(p, "questionnaire")
    assert p.post("questionnaire", {"submit": "y"}).status_code == 302
    assert _has_link(p, "debrief")


def test_pages_before_consent_have_no_withdraw_link(participant):
    p = participant()
    for path in ("", "consent"):
        assert "/withdraw" not in p.page(path).get_data(as_text=True)


def test_withdrawal_is_confirmed_then_ends_the_session_and_keeps_the_trail(participant, study, app, clock):
    p = participant()
    p.ready()
    p.do_trial()
    ask = p.page("withdraw")
    assert ask.status_code == 200 and 'id="withdraw-confirm"' in ask.get_data(as_text=True)
    assert f'href="/study/{p.eid}/task"' in ask.get_data(as_text=True)  # "no, go back" returns to the stage
    with app.app_context():
        assert _rows(study.url, sa.select(ParticipantSession.withdrawn))[0] == (False,)  # a GET changes nothing
    assert p.post("withdraw", csrf=False).status_code == 400  # CSRF required
    clock.advance(5)
    done = p.post("withdraw")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/study/{p.eid}/withdrawn")
    page = p.page("withdrawn").get_data(as_text=True)
    assert 'id="withdrawn-confirmed"' in page and "will not be used" in page
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert s.withdrawn and s.withdrawn_reason == PARTICIPANT_WITHDRAWAL and s.withdrawn_utc == clock.now
    assert _rows(study.url, sa.select(sa.func.count()).select_from(Presentation).where(
        Presentation.answer.is_not(None))) == [(1,)]  # the answer given stays
    kinds = [k for (k,) in _rows(study.url, sa.select(Event.kind).order_by(Event.id))]
    assert kinds[-1] == "withdrawn" and "answer" in kinds
    (audit,) = _rows(study.url, sa.select(AuditLog.action, AuditLog.admin_user_id, AuditLog.detail))
    assert audit.action == "participant_withdraw" and audit.admin_user_id is None
    assert audit.detail["by"] == "participant" and audit.detail["stage"] == "task"
    for path in ("task", "instructions", "questionnaire", "debrief"):  # every stage now leads to the withdrawn page
        assert p.page(path).headers["Location"].endswith("/withdrawn")
    assert p.answer("A", "p2").status_code == 409
    again = p.post("withdraw")
    assert again.status_code == 302 and len(_rows(study.url, sa.select(AuditLog.id))) == 1  # once only
    with app.app_context():
        assert occupancy(get_db(), study.experiment_id, clock(), 1800) == {}  # the place is free again
    table = trial_table(engine_of(app), study.experiment_id)
    assert table["withdrawn"].all() and set(table["session_status"]) == {"withdrawn"}


def test_withdrawn_listener_is_excluded_by_the_analysis(participant, app, study):
    from analysis.exclusions import Rules, score
    from analysis.load import tidy

    stays, leaves = participant(), participant()
    for p in (stays, leaves):
        p.ready()
        for _ in range(4 + 2):  # the practice and two scored trials
            p.do_trial()
    leaves.page("withdraw")
    assert leaves.post("withdraw").status_code == 302
    table = tidy(trial_table(engine_of(app), study.experiment_id))
    scored, record = score(table, Rules(exclude_too_fast=False))  # the fake clock answers in 0 ms
    assert scored["listener"].nunique() == 1
    assert [r["reasons"] for r in record["listeners_excluded"]] == [["withdrawn"]]


def test_withdraw_without_a_session(participant):
    p = participant()
    p.page("")
    assert p.page("withdraw").status_code == 302
    assert p.post("withdraw").status_code == 409


def test_valid_data_export_leaves_the_withdrawn_out(participant, app, study, tmp_path):
    import io
    import json

    import pandas as pd

    from experiment.export import export_bundle

    stays, leaves = participant(), participant()
    for p in (stays, leaves):
        p.ready()
        p.do_trial()
    leaves.page("withdraw")
    leaves.post("withdraw")
    eid = study.experiment_id
    everything = export_bundle(engine_of(app), eid, "csv")
    valid = export_bundle(engine_of(app), eid, "csv", valid_only=True)
    trials_all = pd.read_csv(io.BytesIO(everything[f"study-{eid}-trials.csv"]))
    trials_valid = pd.read_csv(io.BytesIO(valid[f"study-{eid}-trials.csv"]))
    assert trials_all["listener"].nunique() == 2 and trials_all["withdrawn"].sum() == 1
    assert trials_valid["listener"].nunique() == 1 and not trials_valid["withdrawn"].any()
    events_valid = pd.read_csv(io.BytesIO(valid[f"study-{eid}-events.csv"]))
    assert not events_valid["withdrawn"].any() and "withdrawn" not in set(events_valid["kind"])
    assert "withdrawn participants" in json.loads(valid["export.json"])["excluded"]
