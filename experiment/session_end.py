"""How a session ends on the participant's side: the questionnaire stored once, or a withdrawal at their request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.models import AuditLog, Event, ParticipantSession, Questionnaire
from experiment.status import Stage


def submit_questionnaire(db: Session, s: ParticipantSession, answers: dict[str, Any], now: datetime) -> None:
    """Store the questionnaire once and finish the session."""
    if db.scalar(sa.select(Questionnaire.id).where(Questionnaire.session_id == s.id)) is None:
        db.add(Questionnaire(session_id=s.id, answers=answers, submitted_utc=now))
    s.stage = Stage.DONE.value
    db.add(Event(session_id=s.id, kind="questionnaire", created_utc=now))


PARTICIPANT_WITHDRAWAL = "participant withdrew (stop and withdraw)"
"""`session.withdrawn_reason` when the participant withdrew in the flow (the admin panel writes its own reasons)."""


def withdraw_by_participant(db: Session, s: ParticipantSession, now: datetime) -> bool:
    """End the session as withdrawn at the participant's request: every row stays (the audit trail), the flag
    excludes it from quotas, analysis and the valid data; logged as an event and in the audit log. Returns False
    (changing nothing) when it was withdrawn already. The caller holds the session lock and commits."""
    if s.withdrawn:
        return False
    s.withdrawn, s.withdrawn_utc, s.withdrawn_reason = True, now, PARTICIPANT_WITHDRAWAL
    if s.finished_utc is None:
        s.finished_utc = now
    detail = {"by": "participant", "stage": s.stage, "status": s.status}
    db.add(Event(session_id=s.id, kind="withdrawn", detail=detail, created_utc=now))
    db.add(AuditLog(admin_user_id=None, action="participant_withdraw", target=f"session:{s.id}",
                    detail={"experiment_id": s.experiment_id, "listener": s.listener, **detail}, created_utc=now))
    return True
