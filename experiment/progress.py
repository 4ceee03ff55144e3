"""Live progress of a study for the admin panel: per-version counts, the participant table, per-clip accuracy.

Read-only queries (SQLAlchemy, no Flask): a session past its 30-minute cap that nobody has swept yet is
*shown* as timed out or abandoned here, exactly as `sessions.enforce_time` will record it, without writing.
Experimenter previews never appear; withdrawn sessions are counted once, as withdrawn, whatever their status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.models import Clip, Experiment, ParticipantSession, Presentation, TrialTemplate, Version
from experiment.assignment import occupancy
from experiment.timing import PRESENT_AGAIN_GRACE_S, Limits
from experiment.status import SessionStatus
from experiment.tidy import too_fast_floor

STATUSES = ("active", "completed", "timed_out", "abandoned", "screened_out", "withdrawn")
"""The exclusive categories a started session is counted in (withdrawn wins over the recorded status)."""

ERASED_PREFIX = "[erased]"
"""`session.withdrawn_reason` of a session whose data were erased on request."""

POSITION_ORDER = {"beginning": 0, "middle": 1, "end": 2}


def effective_status(s: ParticipantSession, now: datetime, cap_s: float) -> str:
    """What a session is as of `now`: withdrawn, or its status with an unswept cap overrun applied."""
    if s.withdrawn:
        return "withdrawn"
    if s.status == SessionStatus.ACTIVE.value:
        cap_at = s.started_utc + timedelta(seconds=cap_s)
        if now > cap_at:
            present = s.last_seen_utc is not None and s.last_seen_utc >= cap_at - timedelta(
                seconds=PRESENT_AGAIN_GRACE_S)
            return "timed_out" if present else "abandoned"
    return s.status


def time_used_s(s: ParticipantSession, now: datetime, cap_s: float) -> float:
    """Seconds from consent to the end of the session (or to now, at most the cap, while it runs)."""
    if s.finished_utc is not None:
        end = s.finished_utc
    else:
        end = min(s.withdrawn_utc or now, s.started_utc + timedelta(seconds=cap_s))
    return max(0.0, (end - s.started_utc).total_seconds())


@dataclass(frozen=True)
class ParticipantRow:
    """One line of the participant table."""

    session_id: int
    listener: str
    version: int
    status: str
    recorded_status: str
    stage: str
    erased: bool
    practice_done: int
    practice_total: int
    trials_done: int
    trials_total: int
    correct: int
    accuracy: float | None
    timed_out_trials: int
    time_used_s: float
    started_utc: str
    prolific_pid: str | None
    headphone_passed: bool | None
    catch_done: int = 0
    """Catch trials done (answered or timed out); they are never in trials_done, correct or accuracy."""
    catch_total: int = 0
    catch_correct: int = 0
    too_fast: int = 0
    """Scored and catch trials answered faster than the study's `too_fast_ms` floor."""


def _sessions(db: Session, experiment_id: int) -> list[ParticipantSession]:
    """The study's real (non-preview) sessions, oldest first."""
    return list(db.scalars(
        sa.select(ParticipantSession).where(ParticipantSession.experiment_id == experiment_id,
                                            ParticipantSession.preview.is_(False))
        .order_by(ParticipantSession.id)))


def _trial_counts(db: Session, experiment_id: int) -> dict[tuple[int, str], dict[str, int]]:
    """Per (session id, kind: practice / trials / catch): trials planned, done (answered or timed out), correct,
    timed out, and answered faster than the study's `too_fast_ms` floor."""
    p = Presentation
    done = sa.or_(p.answer.is_not(None), p.timed_out.is_(True))
    kind = sa.case((p.practice.is_(True), "practice"), (p.catch.is_(True), "catch"), else_="trials")
    rows = db.execute(
        sa.select(p.session_id, kind, sa.func.count(),
                  sa.func.sum(sa.case((done, 1), else_=0)),
                  sa.func.sum(sa.case((p.correct.is_(True), 1), else_=0)),
                  sa.func.sum(sa.case((p.timed_out.is_(True), 1), else_=0)))
        .join(ParticipantSession, ParticipantSession.id == p.session_id)
        .where(ParticipantSession.experiment_id == experiment_id, ParticipantSession.preview.is_(False))
        .group_by(p.session_id, kind))
    counts = {(sid, str(k)): {"total": int(n), "done": int(d or 0), "correct": int(c or 0), "timed_out": int(t or 0),
                              "too_fast": 0}
              for sid, k, n, d, c, t in rows}
    experiment = db.get(Experiment, experiment_id)
    floor_s = too_fast_floor(experiment.settings if experiment else None) / 1000.0
    answered = db.execute(
        sa.select(p.session_id, p.catch, p.presented_utc, p.answered_utc)
        .join(ParticipantSession, ParticipantSession.id == p.session_id)
        .where(ParticipantSession.experiment_id == experiment_id, ParticipantSession.preview.is_(False),
               p.practice.is_(False), p.answered_utc.is_not(None), p.presented_utc.is_not(None)))
    for sid, catch, presented, answered_at in answered:
        if (answered_at - presented).total_seconds() < floor_s:
            counts[(sid, "catch" if catch else "trials")]["too_fast"] += 1
    return counts


def participant_rows(db: Session, experiment: Experiment, now: datetime) -> list[ParticipantRow]:
    """The participant table: status, version, progress, accuracy so far (scored trials), time used, Prolific id."""
    cap_s = Limits.of(experiment).session_cap_s
    numbers = {v.id: v.number for v in experiment.versions}
    counts = _trial_counts(db, experiment.id)
    empty = {"total": 0, "done": 0, "correct": 0, "timed_out": 0, "too_fast": 0}
    rows = []
    for s in _sessions(db, experiment.id):
        practice, trials = counts.get((s.id, "practice"), empty), counts.get((s.id, "trials"), empty)
        catch = counts.get((s.id, "catch"), empty)
        rows.append(ParticipantRow(
            session_id=s.id, listener=s.listener, version=numbers.get(s.version_id, 0),
            status=effective_status(s, now, cap_s), recorded_status=s.status, stage=s.stage,
            erased=bool(s.withdrawn_reason and s.withdrawn_reason.startswith(ERASED_PREFIX)),
            practice_done=practice["done"], practice_total=practice["total"],
            trials_done=trials["done"], trials_total=trials["total"], correct=trials["correct"],
            accuracy=trials["correct"] / trials["done"] if trials["done"] else None,
            timed_out_trials=trials["timed_out"], time_used_s=round(time_used_s(s, now, cap_s), 1),
            started_utc=s.started_utc.isoformat(), prolific_pid=s.prolific_pid,
            headphone_passed=s.headphone_passed, catch_done=catch["done"], catch_total=catch["total"],
            catch_correct=catch["correct"], too_fast=trials["too_fast"] + catch["too_fast"],
        ))
    return rows


def version_progress(db: Session, experiment: Experiment, now: datetime,
                     rows: list[ParticipantRow] | None = None) -> list[dict[str, Any]]:
    """Per version: quota, sessions started and how many are active / completed / timed out / abandoned /
    screened out / withdrawn now, and `filled` (what assignment counts against the quota)."""
    rows = participant_rows(db, experiment, now) if rows is None else rows
    limits = Limits.of(experiment)
    filled = occupancy(db, experiment.id, now, limits.session_cap_s, limits.idle_release_s)
    out = []
    for v in experiment.versions:
        mine = [r for r in rows if r.version == v.number]
        counts = {status: sum(r.status == status for r in mine) for status in STATUSES}
        out.append({"version": v.number, "quota": v.quota, "started": len(mine), **counts,
                    "filled": int(filled.get(v.id, 0)), "full": filled.get(v.id, 0) >= v.quota})
    return out


def clip_accuracy(db: Session, experiment_id: int) -> list[dict[str, Any]]:
    """Per reconstruction: scored trials where it was the match (and how often listeners chose it) and where it
    was the foil (and how often listeners rejected it). Withdrawn sessions, previews and practice are left out;
    a time-out counts as a wrong answer, as in the trial table."""
    p, s, t = Presentation, ParticipantSession, TrialTemplate
    base = (sa.select().select_from(p).join(s, s.id == p.session_id).join(t, t.id == p.template_id)
            .where(s.experiment_id == experiment_id, s.preview.is_(False), s.withdrawn.is_(False),
                   p.practice.is_(False), p.catch.is_(False),
                   sa.or_(p.answer.is_not(None), p.timed_out.is_(True))))
    stats: dict[int, dict[str, int]] = {}
    for role, column in (("match", t.match_clip_id), ("foil", t.foil_clip_id)):
        query = base.add_columns(column, sa.func.count(), sa.func.sum(sa.case((p.correct.is_(True), 1), else_=0)))
        for clip_id, n, correct in db.execute(query.group_by(column)):
            stats.setdefault(clip_id, {})[f"{role}_n"] = int(n)
            stats[clip_id][f"{role}_correct"] = int(correct or 0)
    clips = db.scalars(sa.select(Clip).where(Clip.experiment_id == experiment_id, Clip.role == "reconstruction"))
    rows = []
    for c in clips:
        st = stats.get(c.id, {})
        match_n, foil_n = st.get("match_n", 0), st.get("foil_n", 0)
        rows.append({
            "clip": c.key, "song": c.song, "position": c.position, "eeg_participant": c.eeg_participant,
            "half": c.half, "match_n": match_n, "match_correct": st.get("match_correct", 0),
            "match_accuracy": st.get("match_correct", 0) / match_n if match_n else None,
            "foil_n": foil_n, "foil_correct": st.get("foil_correct", 0),
            "foil_accuracy": st.get("foil_correct", 0) / foil_n if foil_n else None,
        })
    rows.sort(key=lambda r: (r["song"], POSITION_ORDER.get(r["position"] or "", 9), r["clip"]))
    return rows


def study_summaries(db: Session, now: datetime) -> list[dict[str, Any]]:
    """One line per study for the list page: state, quotas, sessions started / completed / active."""
    experiments = db.scalars(sa.select(Experiment).order_by(Experiment.id.desc())).all()
    s = ParticipantSession
    counts: dict[int, dict[str, int]] = {}
    rows = db.execute(sa.select(s.experiment_id, s.status, s.withdrawn, s.started_utc, s.simulated)
                      .where(s.preview.is_(False)))
    caps = {e.id: Limits.of(e).session_cap_s for e in experiments}
    zero = {"started": 0, "completed": 0, "active": 0, "withdrawn": 0, "screened_out": 0, "simulated": 0}
    for eid, status, withdrawn, started, simulated in rows:
        c = counts.setdefault(eid, dict(zero))
        c["started"] += 1
        c["simulated"] += int(bool(simulated))
        if withdrawn:
            c["withdrawn"] += 1
        elif status == SessionStatus.SCREENED_OUT.value:
            c["screened_out"] += 1
        elif status == SessionStatus.COMPLETED.value:
            c["completed"] += 1
        elif status == SessionStatus.ACTIVE.value and now <= started + timedelta(seconds=caps.get(eid, 1800)):
            c["active"] += 1
    quotas = dict(db.execute(sa.select(Version.experiment_id, sa.func.sum(Version.quota))
                             .group_by(Version.experiment_id)).all())
    out = [{"id": e.id, "name": e.name, "state": e.state, "created_utc": e.created_utc,
            "archived": e.archived_utc is not None, "quota": int(quotas.get(e.id) or 0),
            **counts.get(e.id, dict(zero))}
           for e in experiments]
    for row in out:  # full: every place taken by a completed or running session (a screen-out never takes one)
        row["full"] = row["quota"] > 0 and row["completed"] + row["active"] >= row["quota"]
    return out


def progress_payload(db: Session, experiment: Experiment, now: datetime) -> dict[str, Any]:
    """Everything the study page refreshes, as JSON-ready data."""
    rows = participant_rows(db, experiment, now)
    n_preview = db.scalar(sa.select(sa.func.count()).select_from(ParticipantSession).where(
        ParticipantSession.experiment_id == experiment.id, ParticipantSession.preview.is_(True)))
    return {
        "study": {"id": experiment.id, "name": experiment.name, "state": experiment.state},
        "now_utc": now.isoformat(),
        "versions": version_progress(db, experiment, now, rows),
        "participants": [asdict(r) for r in rows],
        "clips": clip_accuracy(db, experiment.id),
        "previews": int(n_preview or 0),
    }
