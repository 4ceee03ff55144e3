"""A participant's session: assignment, the stored plan, time limits, answers, events (no Flask here).

Every function takes the server's `now` (UTC) from the caller, so tests can drive time.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from experiment.catch import place_catch_trials
from experiment.design import draw_session
from experiment.models import AuditLog, Event, Experiment, ParticipantSession, Presentation, Questionnaire, TrialTemplate, Version
from experiment.places import spent
from experiment.status import EVENT_KINDS, ExperimentState, SessionStatus, Stage
from experiment.settings import HEADPHONE_SCREENS, SECOND_DEVICE_RULES, StudySettings
from experiment.study import version_design

DEFAULT_GRACE_S = 1.0
"""The network grace after a trial's limit when no TRIAL_GRACE_S setting is passed (library callers, tests)."""

PRESENT_AGAIN_GRACE_S = 120
"""A session that hits its cap within this long of the participant's last request counts as timed out, not abandoned."""


class Conflict(Exception):
    """A request that does not fit the session's state (HTTP 409): `code` for machines, message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Prolific:
    """The three ids Prolific appends to the study link."""

    pid: str | None = None
    study_id: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class Assignment:
    """What arriving at the consent button gave: a new or resumed session, or why not."""

    outcome: str  # "new" | "resumed" | "moved" | "already_done" | "other_device" | "full" | "closed" | "client_spent"
    session: ParticipantSession | None = None


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


def trial_key(p: Presentation) -> str:
    """The public name of a presented trial: p1…p4 for practice, t1…t24 for scored trials."""
    return f"{'p' if p.practice else 't'}{p.order_index}"


# ----------------------------------------------------------------------------------------------- assignment


def occupancy(db: Session, experiment_id: int, now: datetime, cap_s: float,
              idle_s: float | None = None) -> dict[int, int]:
    """Per version id: completed sessions plus active ones inside the time cap and, with `idle_s`, seen within it
    (withdrawn sessions and previews never count)."""
    since = now - timedelta(seconds=cap_s)
    s = ParticipantSession
    holding = sa.and_(s.status == SessionStatus.ACTIVE.value, s.started_utc > since)
    if idle_s is not None:  # a place held by someone idle this long is released
        holding = sa.and_(holding, sa.func.coalesce(s.last_seen_utc, s.started_utc) > now - timedelta(seconds=idle_s))
    counted = sa.or_(s.status == SessionStatus.COMPLETED.value, holding)
    rows = db.execute(
        sa.select(s.version_id, sa.func.count())
        .where(s.experiment_id == experiment_id, s.withdrawn.is_(False), s.preview.is_(False), counted)
        .group_by(s.version_id)
    )
    return dict(rows.all())


def assign(db: Session, experiment_id: int, *, now: datetime, prolific: Prolific = Prolific(),
           user_agent: str | None = None, grace_s: float = DEFAULT_GRACE_S, secret: str | None = None,
           client: str | None = None, simulated: bool = False, device_rule: str | None = None,
           held: frozenset[str] = frozenset()) -> Assignment:
    """Give a consenting participant the least-filled open version, in one locked transaction; commits.

    `secret` (the server's SECRET_KEY) keys the session's seeds; None uses a one-off random key. `client`
    (places.client_key of the address) is held to the study's budget of new places per client; None (library
    callers, simulated listeners) is not capped. `simulated` flags the new session (experiment/simulation.py).

    A Prolific id that already has a session is a second arrival of the same id without that session's cookie:
    in a browser that held the session before (`held`: a shared computer, someone else used it since) it resumes;
    from another device or browser `second_arrival` applies the study's rule; it never silently continues.

    The version rows are locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
    writers) so two simultaneous arrivals cannot both take a version's last slot.
    """
    if prolific.pid:
        existing = _by_pid(db, experiment_id, prolific.pid)
        if existing is not None:
            return second_arrival(db, existing, now, grace_s, device_rule, held)
    experiment = db.get(Experiment, experiment_id)
    if experiment is None or experiment.state != ExperimentState.OPEN.value:
        db.rollback()
        return Assignment("closed")
    versions = db.scalars(
        sa.select(Version).where(Version.experiment_id == experiment_id).order_by(Version.number).with_for_update()
    ).all()
    limits = Limits.of(experiment)
    if spent(db, experiment, client, now):  # counted under the version lock: one client's arrivals serialise
        db.rollback()
        return Assignment("client_spent")
    filled = occupancy(db, experiment_id, now, limits.session_cap_s, limits.idle_release_s)
    free = [v for v in versions if filled.get(v.id, 0) < v.quota]
    if not free:
        db.rollback()
        return Assignment("full")
    version = min(free, key=lambda v: (filled.get(v.id, 0), v.number))
    try:
        session = _new_session(db, experiment, version, now, prolific, user_agent, secret=secret, client=client,
                               simulated=simulated)
        db.commit()
    except IntegrityError:  # the same Prolific id arrived twice at once: the other request won
        db.rollback()
        existing = _by_pid(db, experiment_id, prolific.pid) if prolific.pid else None
        if existing is None:
            raise
        return second_arrival(db, existing, now, grace_s, device_rule, held)
    return Assignment("new", session)


def _by_pid(db: Session, experiment_id: int, pid: str) -> ParticipantSession | None:
    """The session this Prolific id already has in this study, if any."""
    return db.scalar(sa.select(ParticipantSession).where(
        ParticipantSession.experiment_id == experiment_id, ParticipantSession.prolific_pid == pid))


# Second-device rules (study.SECOND_DEVICE_RULES): a second device or browser arriving with a Prolific id that has a
# running session gets `refuse` (the default: continue on the first device) or `recheck` (the session moves to this
# device, whose cookie alone works from then on, and the headphone check is taken again before any further trial).

def second_arrival(db: Session, existing: ParticipantSession, now: datetime, grace_s: float,
                   rule: str | None = None, held: frozenset[str] = frozenset()) -> Assignment:
    """A known Prolific id arriving without its session's cookie: refuse, or move the session by the study's rule.

    A session that has not yet passed its headphone check moves under either rule (the check still lies ahead,
    and a consent whose reply was lost must not lock its owner out); the device that had it loses it. A finished
    session is refused as before ('already_done'); one at the questionnaire is refused ('other_device').
    """
    # locked by id, re-read: a concurrent arrival of the same id may have moved it (a new token) meanwhile
    existing = db.scalar(
        sa.select(ParticipantSession)
        .options(joinedload(ParticipantSession.version, innerjoin=True).joinedload(Version.experiment, innerjoin=True))
        .where(ParticipantSession.id == existing.id)
        .with_for_update(of=ParticipantSession).execution_options(populate_existing=True)) or existing
    enforce_time(db, existing, now, grace_s=grace_s)
    running = existing.status == SessionStatus.ACTIVE.value and not existing.withdrawn
    at_questionnaire = existing.stage == Stage.QUESTIONNAIRE.value and not existing.withdrawn
    if not running and not at_questionnaire:
        db.commit()
        return Assignment("already_done", existing)
    if existing.token in held:  # this very browser held it: the same person, back on the same device
        db.commit()
        return Assignment("resumed", existing)
    rule = rule if rule in SECOND_DEVICE_RULES else SECOND_DEVICE_RULES[0]
    unchecked = existing.stage == Stage.HEADPHONE.value
    if not unchecked and (rule == "refuse" or at_questionnaire):
        db.add(Event(session_id=existing.id, kind="second_device", created_utc=now,
                     detail={"rule": rule, "stage": existing.stage, "outcome": "refused"}))
        db.commit()
        return Assignment("other_device", existing)
    db.add(Event(session_id=existing.id, kind="second_device", created_utc=now,
                 detail={"rule": rule, "stage": existing.stage, "outcome": "moved, headphone check again"}))
    existing.token = secrets.token_urlsafe(32)  # the first device's cookie no longer opens it
    if not unchecked:
        existing.stage = Stage.HEADPHONE.value
        existing.headphone_passed = None
        existing.headphone_attempts = (existing.headphone_attempts or 0) + 1  # new sounds for the new check
    existing.last_seen_utc = now
    db.commit()
    return Assignment("moved", existing)


def start_preview(db: Session, experiment_id: int, version_number: int, *, now: datetime,
                  secret: str | None = None) -> ParticipantSession:
    """A preview session of one version for the experimenter: any state, no quota, flagged and never counted."""
    version = db.scalar(sa.select(Version).where(Version.experiment_id == experiment_id,
                                                 Version.number == version_number))
    if version is None:
        raise Conflict("no_such_version", f"study {experiment_id} has no version {version_number}")
    return _new_session(db, version.experiment, version, now, Prolific(), None, preview=True, secret=secret)


def derive_seed(secret: str, purpose: str, session_token: str) -> int:
    """A 63-bit seed for one purpose of one session: HMAC-SHA256 of the server secret, the purpose and the session.

    Seeds of different purposes are unrelated, so the headphone sounds the browser downloads tell nothing
    about the trial order and sides, and without the secret no seed can be guessed or brute-forced.
    """
    digest = hmac.new(secret.encode(), f"tuneback-seed|{purpose}|{session_token}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def headphone_seed(s: ParticipantSession) -> int:
    """The seed of a session's headphone sounds (sessions made before migration 0003 had only one seed)."""
    return s.headphone_seed if s.headphone_seed is not None else s.seed


def _new_session(db: Session, experiment: Experiment, version: Version, now: datetime, prolific: Prolific,
                 user_agent: str | None, *, preview: bool = False, secret: str | None = None,
                 client: str | None = None, simulated: bool = False) -> ParticipantSession:
    """Create the session and store its whole plan (order and sides) before the first trial."""
    token = secrets.token_urlsafe(32)
    key = secret if secret else secrets.token_hex(32)
    seed = derive_seed(key, "order", token)
    session = ParticipantSession(preview=preview, simulated=simulated,
        experiment_id=experiment.id, version_id=version.id, token=token,
        headphone_seed=derive_seed(key, "headphone", token), listener=f"L{secrets.token_hex(5)}", seed=seed,
        status=SessionStatus.ACTIVE.value,
        stage=Stage.HEADPHONE.value, prolific_pid=prolific.pid, prolific_study_id=prolific.study_id,
        prolific_session_id=prolific.session_id, consent_utc=now, started_utc=now, last_seen_utc=now,
        user_agent=(user_agent or "")[:512] or None,
    )
    db.add(session)
    db.flush()
    templates = {t.item: t for t in db.scalars(sa.select(TrialTemplate).where(TrialTemplate.version_id == version.id))}
    design = version_design(db, version)
    plan = place_catch_trials(draw_session(design, seed), design, seed, StudySettings.of(experiment).catch_trials)
    for planned in plan:
        db.add(Presentation(session_id=session.id, template_id=templates[planned.item].id,
                            practice=planned.practice, order_index=planned.order_index,
                            correct_side=planned.correct_side, catch=getattr(planned, "catch", False)))
    db.add(Event(session_id=session.id, kind="consent", created_utc=now,
                 detail={"client": client} if client else None))  # places.arrivals counts these
    db.add(Event(session_id=session.id, kind="assigned", detail={"version": version.number, "seed": seed},
                 created_utc=now))
    return session


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


# --------------------------------------------------------------------------------------------- the session


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
            _complete_trials(db, s, now)
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


def _complete_trials(db: Session, s: ParticipantSession, now: datetime) -> None:
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
        _complete_trials(db, s, now)
    return AnswerResult(cur, False, plan)


LISTEN_SLOTS = ("x", "a", "b")
MAX_FETCHES_LOGGED = 50
"""Audio fetches logged per presentation and slot (Safari asks in many ranges); later ones are served, not logged."""


def record_fetch(db: Session, s: ParticipantSession, p: Presentation, slot: str, now: datetime,
                 byte_range: str | None) -> None:
    """Log that the server handed out one slot's audio of a presentation (the server-side proof of listening)."""
    logged = db.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.presentation_id == p.id, Event.kind == "audio_fetch", Event.slot == slot)) or 0
    if logged < MAX_FETCHES_LOGGED:
        db.add(Event(session_id=s.id, presentation_id=p.id, kind="audio_fetch", slot=slot, created_utc=now,
                     detail={"range": byte_range[:64]} if byte_range else None))


def listened_slots(db: Session, p: Presentation) -> set[str]:
    """Slots of a presentation both fetched from the server and reported played by the page."""
    db.flush()
    rows = db.execute(sa.select(Event.kind, Event.slot).where(
        Event.presentation_id == p.id, Event.kind.in_(("audio_fetch", "play", "replay")), Event.slot.is_not(None)))
    fetched, played = set(), set()
    for kind, slot in rows:
        (fetched if kind == "audio_fetch" else played).add(slot)
    return fetched & played


LOGGING_STATUSES = frozenset({SessionStatus.ACTIVE.value, SessionStatus.COMPLETED.value})
"""Sessions that may still log events: taking part, or done with the trials (the page flushes the last trial's
plays and ends after its answer); never one withdrawn or out of time."""


def log_events(db: Session, s: ParticipantSession, events: list[dict[str, Any]], now: datetime,
               plan: list[Presentation] | None = None) -> int:
    """Append client events (validated by the caller) of an active session, each linked to the trial it names.

    Only a session still taking part may log, only about trials it has been shown, and only up to the study's
    `events_per_session`: a script cannot inflate play counts or fill the table.
    """
    if s.withdrawn or s.status not in LOGGING_STATUSES:
        raise Conflict("not_active", "this session has ended; no more events are taken")
    plan = presentations(db, s) if plan is None else plan
    by_key = {trial_key(p): p.id for p in plan if p.presented_utc is not None}
    unknown = sorted({str(e["trial"]) for e in events if e.get("trial") and e["trial"] not in by_key})
    if unknown:
        raise Conflict("trial_not_shown", f"events name trials this session has not been shown: {unknown[0]:.8}")
    budget = StudySettings.of(s.version.experiment).events_per_session
    logged = db.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.session_id == s.id, Event.kind.in_(sorted(EVENT_KINDS)))) or 0
    if logged + len(events) > budget:
        raise Conflict("event_budget_spent", f"this session has logged its {budget} events")
    for e in events:
        db.add(Event(session_id=s.id, presentation_id=by_key.get(e.get("trial") or ""), kind=e["kind"],
                     slot=e.get("slot"), client_ms=e.get("t"), detail=e.get("detail"), created_utc=now))
    s.last_seen_utc = now
    return len(events)


# ------------------------------------------------------------------------------------ headphones and the rest


def headphone_answers(s: ParticipantSession, n_trials: int) -> list[int]:
    """Which interval (1-3) holds the Huggins pitch in each check trial, from the session's seed and attempt.

    A retry draws new intervals, so a second go cannot reuse what the first one revealed.
    """
    attempt = getattr(s, "headphone_attempts", None) or 0  # test helpers pass a bare namespace of seeds
    suffix = f":{attempt}" if attempt else ""  # the first attempt keeps the sounds of sessions made before 0004
    rng = random.Random(f"tuneback-headphone:{headphone_seed(s)}{suffix}")
    return [rng.randint(1, 3) for _ in range(n_trials)]


def headphone_sound_seed(s: ParticipantSession, k: int) -> int:
    """The noise seed of check sound k in the session's current attempt (a retry gets fresh noise)."""
    return headphone_seed(s) * 31 + k + 1000 * (getattr(s, "headphone_attempts", None) or 0)


def uses_antiphase(experiment: Experiment) -> bool:
    """Whether the study's headphone screen includes the antiphase test (Huggins pitch and antiphase, both passed)."""
    return StudySettings.of(experiment).headphone_screen == HEADPHONE_SCREENS[1]


def antiphase_answers(s: ParticipantSession, n_trials: int) -> list[int]:
    """Which tone (1-3) is the quietest in each antiphase trial (from the session's seed and attempt, apart from
    the Huggins answers)."""
    attempt = getattr(s, "headphone_attempts", None) or 0
    rng = random.Random(f"tuneback-antiphase:{headphone_seed(s)}:{attempt}")
    return [rng.randint(1, 3) for _ in range(n_trials)]


def antiphase_sound_seed(s: ParticipantSession, k: int) -> int:
    """The seed of antiphase sound k (where its antiphase tone falls) in the session's current attempt."""
    return headphone_seed(s) * 37 + 500 + k + 1000 * (getattr(s, "headphone_attempts", None) or 0)


@dataclass(frozen=True)
class HeadphonePolicy:
    """What a failed check does: end the session (screen-out, the default) and how many retries come first."""

    screen_out: bool = True
    retries: int = 0

    @classmethod
    def of(cls, experiment: Experiment) -> HeadphonePolicy:
        """Read the study's settings (studies made before issue 15 screen out, with no retry)."""
        s = StudySettings.of(experiment)
        retries = s.headphone_retries
        return cls(bool(s.headphone_screen_out),
                   max(0, min(1, retries)) if isinstance(retries, int) and not isinstance(retries, bool) else 0)


def submit_headphone(db: Session, s: ParticipantSession, responses: list[int], volume: float | None,
                     now: datetime, antiphase: list[int] | None = None) -> str:
    """Score the headphone check, store it (and the volume) and route on: 'passed', 'retry' or 'screened_out'.

    A fail ends the session as screened out (it never holds a quota place) unless the study allows a retry that
    is still unused, or the study does not screen out at all (then the fail is recorded and the session goes on).
    """
    settings = StudySettings.of(s.version.experiment)
    policy = HeadphonePolicy.of(s.version.experiment)
    n = settings.headphone_trials
    truth = headphone_answers(s, n)
    score = sum(int(a == b) for a, b in zip(responses, truth, strict=True))
    need = settings.headphone_pass
    scores = {"huggins": score}
    if settings.headphone_screen == HEADPHONE_SCREENS[1]:
        if antiphase is None or len(antiphase) != n:
            raise Conflict("antiphase_missing", f"answer all {n} questions of the second test too")
        scores["antiphase"] = sum(int(a == b) for a, b in zip(antiphase, antiphase_answers(s, n), strict=True))
    attempt = (s.headphone_attempts or 0) + 1
    s.headphone_score, s.headphone_trials, s.headphone_attempts = sum(scores.values()), n * len(scores), attempt
    s.headphone_passed = all(v >= need for v in scores.values())  # every test of the screen passed
    s.volume = volume
    db.add(Event(session_id=s.id, kind="headphone", created_utc=now,
                 detail={"score": score, "of": n, "passed": s.headphone_passed, "volume": volume,
                         "attempt": attempt, "scores": scores, "need_each": need}))
    if s.headphone_passed or not policy.screen_out:
        s.stage = Stage.INSTRUCTIONS.value
        return "passed" if s.headphone_passed else "failed_kept"
    if attempt <= policy.retries:
        db.add(Event(session_id=s.id, kind="headphone_retry", created_utc=now,
                     detail={"attempt": attempt, "retries": policy.retries}))
        return "retry"
    s.status = SessionStatus.SCREENED_OUT.value
    s.stage = Stage.DONE.value
    s.finished_utc = now
    db.add(Event(session_id=s.id, kind="screened_out", created_utc=now, detail={"attempts": attempt}))
    return "screened_out"


def start_task(db: Session, s: ParticipantSession, now: datetime) -> None:
    """Leave the instructions for the practice trials."""
    s.stage = Stage.TASK.value
    db.add(Event(session_id=s.id, kind="instructions_done", created_utc=now))


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
