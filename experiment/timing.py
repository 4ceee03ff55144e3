"""A session's clocks: the study's time limits, the session cap and the trial limit applied as of the server's `now`.

Every function takes the server's `now` (UTC) from the caller, so tests can drive time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from experiment.models import Event, Experiment, ParticipantSession, Presentation
from experiment.session_rows import current, load, presentations
from experiment.settings import StudySettings
from experiment.status import SessionStatus, Stage


DEFAULT_GRACE_S = 1.0
"""The network grace after a trial's limit when no TRIAL_GRACE_S setting is passed (library callers, tests)."""


PRESENT_AGAIN_GRACE_S = 120
"""A session that hits its cap within this long of the participant's last request counts as timed out, not abandoned."""


@dataclass(frozen=True)
class Limits:
    """The time limits in force for a study (from its settings) plus the server's network grace."""

    session_cap_s: float
    trial_limit_s: float
    grace_s: float = DEFAULT_GRACE_S
    idle_release_s: float | None = None
    """A session silent this long no longer holds its place in the quota (None: only the cap releases it)."""

    @classmethod
    def of(cls, experiment: Experiment, grace_s: float = DEFAULT_GRACE_S) -> Limits:
        """Read the study's recorded limits (studies made before the idle setting release only at the cap)."""
        s = StudySettings.of(experiment)
        idle = s.idle_release_s
        return cls(float(s.session_cap_s), float(s.trial_limit_s), grace_s,
                   float(idle) if isinstance(idle, int | float) and idle > 0 else None)


def enforce_time(db: Session, s: ParticipantSession, now: datetime, plan: list[Presentation] | None = None, *,
                 grace_s: float = DEFAULT_GRACE_S) -> list[Presentation]:
    """Apply the session cap and the trial limit as of `now` (recording time-outs); return the plan.

    The caller must hold the session row lock (`load(..., lock=True)`).
    """
    limits = Limits.of(s.version.experiment, grace_s)
    plan = presentations(db, s) if plan is None else plan
    if s.status != SessionStatus.ACTIVE.value:
        return plan
    cap_at = s.started_utc + timedelta(seconds=limits.session_cap_s)
    if s.stage in (Stage.HEADPHONE.value, Stage.INSTRUCTIONS.value, Stage.TASK.value) and now > cap_at:
        cur = current(plan)
        if cur is not None and cur.presented_utc is not None and now > _deadline(cur, limits):
            _time_out(db, s, cur, _deadline(cur, limits))
        present = s.last_seen_utc is not None and s.last_seen_utc >= cap_at - timedelta(seconds=PRESENT_AGAIN_GRACE_S)
        s.status = (SessionStatus.TIMED_OUT if present else SessionStatus.ABANDONED).value
        s.stage = Stage.DONE.value
        s.finished_utc = cap_at
        db.add(Event(session_id=s.id, kind="session_timeout", detail={"status": s.status}, created_utc=now))
        return plan
    cur = current(plan)
    if cur is not None and cur.presented_utc is not None and now > _deadline(cur, limits):
        _time_out(db, s, cur, now)
        if current(plan) is None:
            complete_trials(db, s, now)
    return plan


def _deadline(p: Presentation, limits: Limits) -> datetime:
    """When a presented trial stops accepting answers (its limit plus the network grace)."""
    return p.presented_utc + timedelta(seconds=limits.trial_limit_s + limits.grace_s)


def _time_out(db: Session, s: ParticipantSession, p: Presentation, now: datetime) -> bool:
    """Record a trial left unanswered as a time-out; returns False (and changes nothing) if it was answered.

    A conditional UPDATE, not an ORM flush of a row read earlier: even a writer that forgot the session lock
    can never turn an answer committed by another request into a time-out.
    """
    db.flush()
    result = db.execute(
        sa.update(Presentation)
        .where(Presentation.id == p.id, Presentation.answer.is_(None), Presentation.timed_out.is_(False))
        .values(timed_out=True, correct=False)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.refresh(p)
        return False
    set_committed_value(p, "timed_out", True)
    set_committed_value(p, "correct", False)
    db.add(Event(session_id=s.id, presentation_id=p.id, kind="timeout", created_utc=now))
    return True


def complete_trials(db: Session, s: ParticipantSession, now: datetime) -> None:
    """All trials done: the data are complete (status completed) and the questionnaire comes next."""
    s.stage = Stage.QUESTIONNAIRE.value
    s.status = SessionStatus.COMPLETED.value
    s.finished_utc = now
    db.add(Event(session_id=s.id, kind="completed", created_utc=now))


def touch(db: Session, s: ParticipantSession, now: datetime, plan: list[Presentation] | None = None, *,
          grace_s: float = DEFAULT_GRACE_S) -> list[Presentation]:
    """Note the participant's request and apply the time limits (caller holds the lock, commits); returns the plan."""
    plan = enforce_time(db, s, now, plan, grace_s=grace_s)
    s.last_seen_utc = now
    return plan


def expire_sessions(db: Session, experiment_id: int, now: datetime, *, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Close every active session of a study that is past its cap (timed out or abandoned); returns how many."""
    experiment = db.get(Experiment, experiment_id)
    if experiment is None:
        return 0
    cap = timedelta(seconds=Limits.of(experiment).session_cap_s)
    stale = db.scalars(sa.select(ParticipantSession).where(
        ParticipantSession.experiment_id == experiment_id,
        ParticipantSession.status == SessionStatus.ACTIVE.value,
        ParticipantSession.started_utc < now - cap,
    )).all()
    for s in stale:
        locked = load(db, experiment_id, s.token, lock=True)  # every writer of a session holds its lock
        if locked is not None:
            enforce_time(db, locked, now, grace_s=grace_s)
    return len(stale)
