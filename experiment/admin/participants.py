"""One participant's page; withdrawing a participant, erasing their data on request."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session

from experiment.admin.core import audit_change, bp, participant_or_404, study_or_404
from experiment.admin.forms import EraseForm, WithdrawForm
from experiment.models import AdminUser, AuditLog, Event, Experiment, ParticipantSession, Presentation, Questionnaire
from experiment.progress import ERASED_PREFIX, participant_rows
from experiment.status import SessionStatus, Stage
from experiment.webdb import get_db, now


@bp.get("/studies/<int:experiment_id>/participants/<int:session_id>")
def participant(experiment_id: int, session_id: int) -> str:
    """One participant: their trials, questionnaire, and the withdraw / erase forms."""
    experiment = study_or_404(experiment_id)
    s = participant_or_404(experiment, session_id)
    return _participant_page(experiment, s, WithdrawForm(formdata=None), EraseForm(formdata=None))


def _participant_page(experiment: Experiment, s: ParticipantSession, withdraw_form: WithdrawForm,
                      erase_form: EraseForm, error: str | None = None) -> str:
    """Render the participant page."""
    db = get_db()
    row = next(r for r in participant_rows(db, experiment, now()) if r.session_id == s.id)
    trials = db.scalars(sa.select(Presentation).where(Presentation.session_id == s.id)
                        .order_by(Presentation.practice.desc(), Presentation.order_index)).all()
    questionnaire = db.scalar(sa.select(Questionnaire).where(Questionnaire.session_id == s.id))
    n_events = db.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.session_id == s.id))
    history = db.execute(sa.select(AuditLog, AdminUser.username).outerjoin(
        AdminUser, AdminUser.id == AuditLog.admin_user_id).where(AuditLog.target == f"session:{s.id}")
        .order_by(AuditLog.id)).all()
    return render_template("admin/participant.html", experiment=experiment, s=s, row=row, trials=trials,
                           questionnaire=questionnaire, n_events=n_events, history=history,
                           withdraw_form=withdraw_form, erase_form=erase_form, error=error)


@bp.post("/studies/<int:experiment_id>/participants/<int:session_id>/withdraw")
def withdraw(experiment_id: int, session_id: int) -> Response | tuple[str, int]:
    """Withdraw a participant: their data stay, flagged and excluded from analysis; audited."""
    experiment = study_or_404(experiment_id)
    s = participant_or_404(experiment, session_id, lock=True)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _participant_page(experiment, s, form, EraseForm(formdata=None), "the withdrawal form was invalid"), 400
    if s.withdrawn:
        flash(f"{s.listener} was already withdrawn.", "notice")
        return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))
    db, when = get_db(), now()
    reason = (form.reason.data or "").strip() or None
    s.withdrawn, s.withdrawn_utc, s.withdrawn_reason = True, when, reason
    audit_change(db, "withdraw", f"session:{s.id}", {"experiment_id": experiment.id, "listener": s.listener,
                                               "reason": reason, "status": s.status})
    db.commit()
    flash(f"{s.listener} withdrawn: data kept, excluded from analysis.", "ok")
    return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))


@bp.post("/studies/<int:experiment_id>/participants/<int:session_id>/erase")
def erase(experiment_id: int, session_id: int) -> Response | tuple[str, int]:
    """Erase a participant's data on request: trials, events, questionnaire and personal ids; audited."""
    experiment = study_or_404(experiment_id)
    s = participant_or_404(experiment, session_id, lock=True)
    form = EraseForm()
    if not form.validate_on_submit():
        return _participant_page(experiment, s, WithdrawForm(formdata=None), form,
                                 "the erase form was invalid"), 400
    if (form.confirm.data or "").strip() != s.listener:
        return _participant_page(experiment, s, WithdrawForm(formdata=None), form,
                                 f"type the listener id {s.listener} exactly to confirm the erasure"), 400
    db, when = get_db(), now()
    reason = (form.reason.data or "").strip() or None
    counts = delete_session_data(db, [s.id])
    _scrub(s, when, reason)
    audit_change(db, "erase", f"session:{s.id}", {"experiment_id": experiment.id, "listener": s.listener,
                                            "reason": reason, "deleted": counts})
    db.commit()
    flash(f"The data of {s.listener} were erased; the audit log keeps that it happened.", "ok")
    return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))


def delete_session_data(db: Session, session_ids: list[int]) -> dict[str, int]:
    """Delete the events, questionnaires and presentations of these sessions; return how many of each."""
    counts = {}
    for name, model in (("events", Event), ("questionnaires", Questionnaire), ("presentations", Presentation)):
        result = db.execute(sa.delete(model).where(model.session_id.in_(session_ids)))
        counts[name] = int(result.rowcount or 0)
    return counts


def _scrub(s: ParticipantSession, when: datetime, reason: str | None) -> None:
    """Keep only an anonymous stub of an erased session: withdrawn, no ids, answers, checks or codes.

    The token is replaced so the participant's old cookie no longer reaches the (now empty) session.
    """
    s.withdrawn = True
    s.withdrawn_utc = s.withdrawn_utc or when
    s.withdrawn_reason = f"{ERASED_PREFIX} {reason or ''}".strip()
    s.prolific_pid = s.prolific_study_id = s.prolific_session_id = None
    s.user_agent = None
    s.headphone_score = s.headphone_trials = None
    s.headphone_passed = None
    s.volume = None
    s.completion_code = None
    s.token = secrets.token_urlsafe(32)
    if s.status == SessionStatus.ACTIVE.value:
        s.status = SessionStatus.ABANDONED.value
        s.finished_utc = s.finished_utc or when
    s.stage = Stage.DONE.value
