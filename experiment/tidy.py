"""The tidy trial table (docs/contracts.md §2): one row per trial shown, straight from the database."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from experiment.errors import ExperimentError
from experiment.models import Clip, Event, Experiment, ParticipantSession, Presentation, TrialTemplate, Version
from experiment.playback import flags_by_presentation
from experiment.settings import DEFAULTS, StudySettings
from experiment.simulation import looks_simulated

COLUMNS: tuple[str, ...] = (
    "experiment_id", "listener", "version", "practice", "trial_index", "item", "song", "position",
    "eeg_participant", "foil_song", "foil_eeg_participant", "match_clip", "foil_clip", "correct_side",
    "answer", "correct", "timed_out", "rt_ms", "presented_utc", "answered_utc", "n_plays", "session_status",
    "withdrawn", "headphone_passed", "prolific_pid", "catch", "too_fast", "simulated", "playback",
)
"""The contract's columns, in order."""

PLAY_KINDS = ("play", "replay")
DEFAULT_TOO_FAST_MS = float(DEFAULTS.too_fast_ms)


def trial_table(engine: Engine, experiment_id: int, *, previews: bool = False) -> pd.DataFrame:
    """Return the contract's trial-level table for one study (practice included and flagged).

    Only trials that were presented appear, of real participants (with `previews`: of the experimenter's
    preview sessions only, never both); `answer` is null for a time-out or a trial shown when the session
    ended. Raises ExperimentError for an unknown study.
    """
    with engine.connect() as conn:
        found = conn.execute(sa.select(Experiment.id, Experiment.settings).where(Experiment.id == experiment_id)).first()
        if found is None:
            raise ExperimentError(f"no experiment with id {experiment_id} in this database")
        rows = conn.execute(_query(experiment_id, previews)).mappings().all()
    floor = too_fast_floor(found.settings)
    flags = flags_by_presentation(engine, experiment_id)
    return _frame([_row(r, floor, flags.get(r["presentation_id"], "not_logged")) for r in rows])


def too_fast_floor(settings: dict | None) -> float:
    """The study's `too_fast_ms` floor (studies made before issue 15: 1000 ms)."""
    value = StudySettings.stored(settings).too_fast_ms
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else DEFAULT_TOO_FAST_MS


def _query(experiment_id: int, previews: bool = False) -> sa.Select:
    """One SELECT joining presentation → session → version → template → the three clips, plus play counts."""
    target, match, foil = aliased(Clip), aliased(Clip), aliased(Clip)
    plays = (
        sa.select(Event.presentation_id, sa.func.count().label("n_plays"))
        .where(Event.kind.in_(PLAY_KINDS), Event.presentation_id.is_not(None))
        .group_by(Event.presentation_id)
        .subquery()
    )
    s = ParticipantSession
    return (
        sa.select(
            s.experiment_id, s.listener, Version.number.label("version"), Presentation.practice,
            Presentation.order_index, TrialTemplate.item, target.song, target.position,
            match.eeg_participant, foil.song.label("foil_song"),
            foil.eeg_participant.label("foil_eeg_participant"), match.key.label("match_clip"),
            foil.key.label("foil_clip"), target.key.label("target_clip"), Presentation.catch,
            Presentation.correct_side, Presentation.answer, Presentation.timed_out,
            Presentation.presented_utc, Presentation.answered_utc, plays.c.n_plays, s.status, s.withdrawn,
            s.headphone_passed, s.prolific_pid, s.simulated, Presentation.id.label("presentation_id"),
        )
        .select_from(Presentation)
        .join(s, Presentation.session_id == s.id)
        .join(Version, s.version_id == Version.id)
        .join(TrialTemplate, Presentation.template_id == TrialTemplate.id)
        .join(target, TrialTemplate.target_clip_id == target.id)
        .join(match, TrialTemplate.match_clip_id == match.id)
        .join(foil, TrialTemplate.foil_clip_id == foil.id)
        .outerjoin(plays, plays.c.presentation_id == Presentation.id)
        .where(s.experiment_id == experiment_id, s.preview.is_(previews), Presentation.presented_utc.is_not(None))
        .order_by(s.id, Presentation.practice.desc(), Presentation.order_index)
    )


def _row(r: sa.RowMapping, too_fast_ms: float, playback: str = "not_logged") -> dict:
    """Derive the contract's computed columns (correct, rt_ms, session_status, too_fast) from one joined row.

    A catch trial's match is X's own clip (no EEG participant): the row says what was played.
    """
    answered, presented = r["answered_utc"], r["presented_utc"]
    rt_ms = (answered - presented).total_seconds() * 1000.0 if answered is not None else None
    catch = bool(r["catch"])
    return {
        "experiment_id": r["experiment_id"], "listener": r["listener"], "version": r["version"],
        "practice": bool(r["practice"]), "trial_index": r["order_index"], "item": r["item"], "song": r["song"],
        "position": r["position"], "eeg_participant": None if catch else r["eeg_participant"],
        "foil_song": r["foil_song"], "foil_eeg_participant": r["foil_eeg_participant"],
        "match_clip": r["target_clip"] if catch else r["match_clip"],
        "foil_clip": r["foil_clip"], "correct_side": r["correct_side"], "answer": r["answer"],
        "correct": r["answer"] is not None and r["answer"] == r["correct_side"],
        "timed_out": bool(r["timed_out"]), "rt_ms": rt_ms, "presented_utc": presented, "answered_utc": answered,
        "n_plays": int(r["n_plays"] or 0),
        "session_status": "withdrawn" if r["withdrawn"] else r["status"],
        "withdrawn": bool(r["withdrawn"]), "headphone_passed": bool(r["headphone_passed"]),
        "prolific_pid": r["prolific_pid"], "catch": catch,
        "too_fast": rt_ms is not None and rt_ms < too_fast_ms,
        "simulated": looks_simulated(r["prolific_pid"], r["simulated"]),
        "playback": playback,
    }


def _frame(records: list[dict]) -> pd.DataFrame:
    """Build the DataFrame with the contract's column order and stable dtypes, even when empty."""
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for name in ("experiment_id", "version", "trial_index", "n_plays"):
        frame[name] = frame[name].astype("int64")
    for name in ("practice", "correct", "timed_out", "withdrawn", "headphone_passed", "catch", "too_fast", "simulated"):
        frame[name] = frame[name].astype("bool")
    frame["rt_ms"] = frame["rt_ms"].astype("float64")
    for name in ("presented_utc", "answered_utc"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    for name in ("answer", "prolific_pid"):
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame
