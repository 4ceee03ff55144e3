"""The trials of a session: where it stands, starting a trial's clock, recording an answer at most once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from experiment.errors import Conflict
from experiment.listening import LISTEN_SLOTS, listened_slots
from experiment.models import Event, ParticipantSession, Presentation
from experiment.session_rows import current, trial_key
from experiment.settings import StudySettings
from experiment.status import SessionStatus, Stage
from experiment.timing import DEFAULT_GRACE_S, Limits, complete_trials, touch


def start_task(db: Session, s: ParticipantSession, now: datetime) -> None:
    """Leave the instructions for the practice trials."""
    s.stage = Stage.TASK.value
    db.add(Event(session_id=s.id, kind="instructions_done", created_utc=now))


@dataclass(frozen=True)
class TaskState:
    """Where a session stands, for the page script (no clip ids, no correct side of unanswered trials)."""

    stage: str
    status: str
    trial: Presentation | None
    n_practice: int
    n_trials: int
    done_practice: int
    done_trials: int
    remaining_s: float | None
    session_remaining_s: float
    intermission: bool


def task_state(db: Session, s: ParticipantSession, plan: list[Presentation], now: datetime) -> TaskState:
    """Summarise the plan as of `now`; a trial's countdown never runs past the session's own remaining time."""
    limits = Limits.of(s.version.experiment)
    cur = current(plan) if s.stage == Stage.TASK.value and s.status == SessionStatus.ACTIVE.value else None
    remaining = None
    if cur is not None and cur.presented_utc is not None:
        remaining = max(0.0, (cur.presented_utc - now).total_seconds() + limits.trial_limit_s)
    practice = [p for p in plan if p.practice]
    trials = [p for p in plan if not p.practice]
    cap_left = (s.started_utc - now).total_seconds() + limits.session_cap_s
    if remaining is not None:
        remaining = max(0.0, min(remaining, cap_left))
    return TaskState(
        stage=s.stage, status=s.status, trial=cur, n_practice=len(practice), n_trials=len(trials),
        done_practice=sum(p.answer is not None or p.timed_out for p in practice),
        done_trials=sum(p.answer is not None or p.timed_out for p in trials),
        remaining_s=remaining, session_remaining_s=max(0.0, cap_left),
        intermission=bool(cur is not None and not cur.practice and cur.order_index == 1
                          and cur.presented_utc is None and practice),
    )


def present(db: Session, s: ParticipantSession, trial: str, now: datetime, *,
            grace_s: float = DEFAULT_GRACE_S) -> list[Presentation]:
    """Start the current trial's clock (idempotent: a reload keeps the first start time); returns the plan."""
    plan = touch(db, s, now, grace_s=grace_s)
    cur = _require_current(s, plan, trial)
    if cur.presented_utc is None:
        cur.presented_utc = now
        db.add(Event(session_id=s.id, presentation_id=cur.id, kind="presented", created_utc=now))
    return plan


def _require_current(s: ParticipantSession, plan: list[Presentation], trial: str) -> Presentation:
    """The current trial, if `trial` names it; else a Conflict saying why not."""
    if s.withdrawn:
        raise Conflict("withdrawn", "this participation was ended by the researchers; no more answers are taken")
    if s.status != SessionStatus.ACTIVE.value or s.stage != Stage.TASK.value:
        raise Conflict("not_in_task", f"this session is not doing trials (stage {s.stage}, status {s.status})")
    cur = current(plan)
    if cur is None or trial_key(cur) != trial:
        named = next((p for p in plan if trial_key(p) == trial), None)
        if named is not None and named.timed_out:
            raise Conflict("trial_timed_out", f"trial {trial} ran out of time; the next trial is waiting")
        if named is not None and named.answer is not None:
            raise Conflict("trial_already_answered", f"trial {trial} is already answered")
        raise Conflict("not_current_trial", f"trial {trial!s:.16} is not the current trial")
    return cur


@dataclass(frozen=True)
class AnswerResult:
    """A stored answer (first or repeated), whether this request was the repeat, and the session's plan."""

    presentation: Presentation
    repeated: bool
    plan: list[Presentation]


def answer(db: Session, s: ParticipantSession, *, trial: str, side: str, client_id: str,
           now: datetime, grace_s: float = DEFAULT_GRACE_S) -> AnswerResult:
    """Record an answer at most once per client id; the caller must hold the session row lock and commit."""
    plan = touch(db, s, now, grace_s=grace_s)
    prior = next((p for p in plan if p.client_answer_id == client_id), None)
    if prior is not None:
        if trial_key(prior) != trial:
            raise Conflict("answer_id_reused", "this answer id was already used for another trial")
        return AnswerResult(prior, True, plan)
    cur = _require_current(s, plan, trial)
    if cur.presented_utc is None:
        raise Conflict("trial_not_presented", f"trial {trial} has not been started")
    if StudySettings.of(s.version.experiment).require_listening:
        missing = [slot.upper() for slot in LISTEN_SLOTS if slot not in listened_slots(db, cur)]
        if missing:
            raise Conflict("not_listened", f"play X, A and B before answering (not yet played: {', '.join(missing)})")
    cur.answer = side
    cur.answered_utc = now
    cur.correct = side == cur.correct_side
    cur.client_answer_id = client_id
    db.add(Event(session_id=s.id, presentation_id=cur.id, kind="answer", detail={"answer": side}, created_utc=now))
    if current(plan) is None:
        complete_trials(db, s, now)
    return AnswerResult(cur, False, plan)
