"""A participant's session read from the database: by its token, its stored plan, the trial it is on."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from experiment.models import ParticipantSession, Presentation, Version


def trial_key(p: Presentation) -> str:
    """The public name of a presented trial: p1…p4 for practice, t1…t24 for scored trials."""
    return f"{'p' if p.practice else 't'}{p.order_index}"


def load(db: Session, experiment_id: int, token: str | None, *, lock: bool = False) -> ParticipantSession | None:
    """The session with this secret token in this study (row-locked for writers on PostgreSQL)."""
    if not token:
        return None
    query = (
        sa.select(ParticipantSession)
        .options(joinedload(ParticipantSession.version, innerjoin=True).joinedload(Version.experiment, innerjoin=True))
        .where(ParticipantSession.token == token, ParticipantSession.experiment_id == experiment_id)
    )
    if lock:  # only the session row: version rows are what assignment locks
        # populate_existing: a row read earlier in this transaction is re-read under the lock, not reused stale
        query = query.with_for_update(of=ParticipantSession).execution_options(populate_existing=True)
    return db.scalar(query)


def presentations(db: Session, s: ParticipantSession) -> list[Presentation]:
    """The session's plan: practice first, then the trials, each in order."""
    return list(db.scalars(sa.select(Presentation).where(Presentation.session_id == s.id)
                           .order_by(Presentation.practice.desc(), Presentation.order_index)))


def current(plan: list[Presentation]) -> Presentation | None:
    """The first trial neither answered nor timed out, or None when all are done."""
    return next((p for p in plan if p.answer is None and not p.timed_out), None)
