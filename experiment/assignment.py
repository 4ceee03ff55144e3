"""Who gets a place: a consenting participant assigned the least-filled version in one locked transaction, a
second arrival of the same Prolific id, the experimenter's previews, and each new session's seeds and plan.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from experiment.catch import place_catch_trials
from experiment.design import draw_session
from experiment.errors import Conflict
from experiment.models import Event, Experiment, ParticipantSession, Presentation, TrialTemplate, Version
from experiment.places import spent
from experiment.settings import SECOND_DEVICE_RULES, StudySettings
from experiment.status import ExperimentState, SessionStatus, Stage
from experiment.study import version_design
from experiment.timing import DEFAULT_GRACE_S, Limits, enforce_time


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


# Second-device rules (settings.SECOND_DEVICE_RULES): a second device or browser arriving with a Prolific id that has
# a running session gets `refuse` (the default: continue on the first device) or `recheck` (the session moves to this
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
