"""Export a study's data as CSV or Parquet: trials (the contract's tidy table), events, questionnaire answers,
and a data dictionary (table, column, type, meaning, unit). No Flask here; the admin panel and the CLI call it.

Experimenter previews are never exported with the participants' data (a separate bundle, `previews=True`,
holds them and nothing else); withdrawn participants are, flagged (`withdrawn`), so the analysis
can state the exclusion. In CSV, text cells a spreadsheet would run as a formula (starting with = + - @, a tab
or a carriage return) get a leading apostrophe; Parquet keeps every value exactly.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import tuneback_core

from experiment.errors import ExperimentError
from experiment.models import Event, Experiment, ParticipantSession, Presentation, Questionnaire, Version
from experiment.tidy import trial_table

FORMATS = ("csv", "parquet")
TABLES = ("trials", "events", "questionnaire", "playback")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SCHEMA = "tuneback.export/1"

QUESTIONNAIRE_FIXED = ("experiment_id", "listener", "version", "session_status", "withdrawn", "headphone_passed",
                       "submitted_utc")
"""The questionnaire table's columns before the answers (one column per question follows)."""

MIMETYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
             "zip": "application/zip"}


# ------------------------------------------------------------------------------------------------ the tables


def events_table(engine: Engine, experiment_id: int, *, previews: bool = False) -> pd.DataFrame:
    """Every logged event of the study's participants (or with `previews`, of its preview sessions), oldest first."""
    _require_study(engine, experiment_id)
    s, p = ParticipantSession, Presentation
    query = (
        sa.select(Event.id, s.experiment_id, s.listener, Version.number, p.practice, p.order_index, Event.kind,
                  Event.slot, Event.client_ms, Event.detail, Event.created_utc, s.withdrawn)
        .select_from(Event)
        .join(s, s.id == Event.session_id)
        .join(Version, Version.id == s.version_id)
        .outerjoin(p, p.id == Event.presentation_id)
        .where(s.experiment_id == experiment_id, s.preview.is_(previews))
        .order_by(Event.created_utc, Event.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    records = [{
        "event_id": r[0], "experiment_id": r[1], "listener": r[2], "version": r[3],
        "trial": None if r[5] is None else f"{'p' if r[4] else 't'}{r[5]}", "kind": r[6], "slot": r[7],
        "client_ms": r[8], "detail": None if r[9] is None else json.dumps(r[9], sort_keys=True),
        "created_utc": r[10], "withdrawn": bool(r[11]),
    } for r in rows]
    frame = pd.DataFrame.from_records(records, columns=[c.column for c in DICTIONARY if c.table == "events"])
    return _types(frame, ints=("event_id", "experiment_id", "version"), floats=("client_ms",),
                  bools=("withdrawn",), times=("created_utc",), texts=("trial", "slot", "detail"))


def questionnaire_table(engine: Engine, experiment_id: int, *, previews: bool = False) -> pd.DataFrame:
    """One row per submitted questionnaire (of previews only with `previews`), one column per question."""
    _require_study(engine, experiment_id)
    s = ParticipantSession
    query = (
        sa.select(s.experiment_id, s.listener, Version.number, s.status, s.withdrawn, s.headphone_passed,
                  Questionnaire.submitted_utc, Questionnaire.answers)
        .select_from(Questionnaire)
        .join(s, s.id == Questionnaire.session_id)
        .join(Version, Version.id == s.version_id)
        .where(s.experiment_id == experiment_id, s.preview.is_(previews))
        .order_by(s.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    known = [c.column for c in DICTIONARY if c.table == "questionnaire"]
    questions = [c for c in known if c not in QUESTIONNAIRE_FIXED]
    extra = sorted({k for r in rows for k in (r[7] or {})} - set(known))
    records = []
    for r in rows:
        answers = r[7] or {}
        record = {"experiment_id": r[0], "listener": r[1], "version": r[2],
                  "session_status": "withdrawn" if r[4] else r[3], "withdrawn": bool(r[4]),
                  "headphone_passed": bool(r[5]), "submitted_utc": r[6]}
        record.update({q: _answer(answers.get(q)) for q in (*questions, *extra)})
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[*known, *extra])
    return _types(frame, ints=("experiment_id", "version"), bools=("withdrawn", "headphone_passed"),
                  times=("submitted_utc",), texts=(*questions, *extra))


def table(engine: Engine, experiment_id: int, name: str, *, previews: bool = False) -> pd.DataFrame:
    """One export table by name: trials, events, questionnaire, or dictionary (of previews only with `previews`)."""
    from experiment.playback import playback_table

    builders: dict[str, Callable[..., pd.DataFrame]] = {
        "trials": trial_table, "events": events_table, "questionnaire": questionnaire_table,
        "playback": playback_table,
        "dictionary": lambda _e, _i, previews: dictionary_frame(),
    }
    if name not in builders:
        raise ExperimentError(f"unknown export table {name!r}: choose one of {', '.join(builders)}")
    if name == "dictionary":
        _require_study(engine, experiment_id)
    return builders[name](engine, experiment_id, previews=previews)


def _answer(value: Any) -> str | None:
    """A questionnaire answer as text; a skipped question (empty) as null."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _types(frame: pd.DataFrame, *, ints: tuple[str, ...] = (), floats: tuple[str, ...] = (),
           bools: tuple[str, ...] = (), times: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Stable dtypes, even for an empty table (the same choices as experiment.tidy)."""
    for name in ints:
        frame[name] = frame[name].astype("int64")
    for name in floats:
        frame[name] = frame[name].astype("float64")
    for name in bools:
        frame[name] = frame[name].astype("bool")
    for name in times:
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    for name in texts:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _require_study(engine: Engine, experiment_id: int) -> None:
    """ExperimentError unless the study exists."""
    with engine.connect() as conn:
        if conn.scalar(sa.select(Experiment.id).where(Experiment.id == experiment_id)) is None:
            raise ExperimentError(f"no experiment with id {experiment_id} in this database")


# ------------------------------------------------------------------------------------------------ dictionary


@dataclass(frozen=True)
class Column:
    """One line of the data dictionary."""

    table: str
    column: str
    type: str
    meaning: str
    unit: str = ""


def _question_columns() -> list[Column]:
    """The questionnaire's questions, labelled and with their choices, straight from the participant's form."""
    from experiment.forms import QuestionnaireForm

    out = []
    for name in ("age", "hearing", "training", "device", "environment", "familiar", "strategy", "problems"):
        field = getattr(QuestionnaireForm, name)
        label = field.args[0] if field.args else name
        choices = field.kwargs.get("choices") or []
        values = [str(getattr(c, "value", c[0] if isinstance(c, tuple) else c)) for c in choices]
        values = [v for v in values if v]
        meaning = f"{label}" + (f" One of: {', '.join(values)}." if values else " Free text.")
        out.append(Column("questionnaire", name, "str or null", meaning + " Null when skipped."))
    return out


DICTIONARY: list[Column] = [
    Column("trials", "experiment_id", "int", "Study id."),
    Column("trials", "listener", "str", "Opaque participant (session) id; no personal data."),
    Column("trials", "version", "int", "Counterbalancing version (1 or 2)."),
    Column("trials", "practice", "bool", "Practice trial, with feedback; never scored."),
    Column("trials", "trial_index", "int", "Order of presentation within the session, 1-based; practice numbered "
           "separately."),
    Column("trials", "item", "str", "Trial template id: the same item across listeners of one version."),
    Column("trials", "song", "str", "Song of X (the target)."),
    Column("trials", "position", "str", "Where in the song X lies: beginning, middle or end."),
    Column("trials", "eeg_participant", "str", "EEG participant of the matching reconstruction."),
    Column("trials", "foil_song", "str", "Song of the foil."),
    Column("trials", "foil_eeg_participant", "str", "EEG participant of the foil."),
    Column("trials", "match_clip", "str", "Manifest clip id of the matching reconstruction."),
    Column("trials", "foil_clip", "str", "Manifest clip id of the foil."),
    Column("trials", "correct_side", "str", "Side (A or B) holding the matching reconstruction."),
    Column("trials", "answer", "str or null", "Listener's answer, A or B; null for a time-out or a trial shown "
           "when the session ended."),
    Column("trials", "correct", "bool", "answer == correct_side; a time-out counts false."),
    Column("trials", "timed_out", "bool", "No answer within the trial limit (60 s)."),
    Column("trials", "rt_ms", "float or null", "Answer time minus presentation time, server clock.", "ms"),
    Column("trials", "presented_utc", "datetime", "When the trial was started (server clock).", "UTC, ISO 8601"),
    Column("trials", "answered_utc", "datetime or null", "When the answer arrived (server clock).",
           "UTC, ISO 8601"),
    Column("trials", "n_plays", "int", "Plays of X, A and B together (replays included).", "count"),
    Column("trials", "session_status", "str", "completed / active / timed_out / abandoned / screened_out / withdrawn."),
    Column("trials", "withdrawn", "bool", "Participant withdrawn: data kept, excluded from analysis."),
    Column("trials", "headphone_passed", "bool", "Passed the headphone check: at least headphone_pass (default 5) "
           "of headphone_trials (default 6) Huggins-pitch sounds answered right (the study's settings, export.json). "
           "Huggins pitch alone passes about 20% of loudspeaker users (Milne et al. 2021)."),
    Column("trials", "prolific_pid", "str or null", "Prolific participant id, where given (personal data)."),
    Column("trials", "catch", "bool", "Catch trial: X played again on the correct side (attention check); never "
           "scored, counted per listener by the analysis."),
    Column("trials", "too_fast", "bool", "Answered sooner than the study's too_fast_ms floor after the trial "
           "started (flagged; the analysis may exclude it)."),
    Column("trials", "simulated", "bool", "A simulated listener (`tuneback experiment simulate`: the session carried "
           "the study's simulation key, or its Prolific id starts with 'sim-'), never a person. The analysis "
           "excludes simulated listeners when the study has real ones, else analyses them under a SIMULATED "
           "LISTENERS banner."),
    Column("trials", "playback", "str", "The playback log's verdict on the trial, by this rule: ok when X, A and B "
           "each played to their end at least once (ended, not cut, the audio clock advancing by at least 95% of the "
           "clip); cut_short when each sounded but one was never heard to its end; never_sounded when one never "
           "sounded (context not running, or the clock never advanced); not_logged when the trial has no playback "
           "record. The analysis excludes cut_short and never_sounded trials from its primary results."),
    Column("events", "event_id", "int", "Event id, increasing in the order the server stored events."),
    Column("events", "experiment_id", "int", "Study id."),
    Column("events", "listener", "str", "Opaque participant (session) id."),
    Column("events", "version", "int", "Counterbalancing version of the session."),
    Column("events", "trial", "str or null", "Trial the event belongs to: p1-p4 practice, t1-t24 scored "
           "(trial_index with a prefix); null for events outside a trial."),
    Column("events", "kind", "str", "What happened: play, replay, ended, playback (one play's record, see the "
           "playback table), stop, hidden, visible, ready, unlock, audio_error, retry, reload, volume (from the page); "
           "consent, assigned, headphone, instructions_done, presented, answer, timeout, session_timeout, completed, "
           "questionnaire, second_device (the same Prolific id arrived on another device: refused or moved by the "
           "study's rule) (from the server)."),
    Column("events", "slot", "str or null", "Sound concerned: x, a, b; cal or hp1-hp6 in the headphone check."),
    Column("events", "client_ms", "float or null", "Page clock when the page logged it (performance.now()).",
           "ms since page load"),
    Column("events", "detail", "str or null", "Extra fields of the event as a JSON object."),
    Column("events", "created_utc", "datetime", "When the server stored the event.", "UTC, ISO 8601"),
    Column("events", "withdrawn", "bool", "Participant withdrawn: data kept, excluded from analysis."),
    Column("playback", "experiment_id", "int", "Study id."),
    Column("playback", "listener", "str", "Opaque participant (session) id."),
    Column("playback", "version", "int", "Counterbalancing version of the session."),
    Column("playback", "trial", "str", "Trial of the play: p1-p4 practice, t1-t24 scored."),
    Column("playback", "slot", "str", "Sound played: x, a or b."),
    Column("playback", "play", "int", "1 for the first play of this slot in this trial, 2 for the next…", "count"),
    Column("playback", "ctx_state", "str or null", "The page's audio context state when the play started "
           "(running, suspended, interrupted)."),
    Column("playback", "start_s", "float or null", "Start on the audio clock (AudioContext.currentTime).", "s"),
    Column("playback", "end_s", "float or null", "End (or cut) on the audio clock.", "s"),
    Column("playback", "duration_s", "float or null", "The clip's duration.", "s"),
    Column("playback", "output_latency_s", "float or null", "The context's output latency (outputLatency, else "
           "baseLatency) as the browser reports it.", "s"),
    Column("playback", "outcome", "str or null", "ended (played to its end) or cut."),
    Column("playback", "cause", "str or null", "Why a play was cut: hidden (tab hidden), device_change (audio output "
           "changed), suspended (audio context stopped), replaced (another sound started), answered, time_up."),
    Column("playback", "sounded", "bool", "The rule: the context was running and the audio clock advanced."),
    Column("playback", "complete", "bool", "The rule: ended, not cut, and the clock advanced by at least 95% of the "
           "clip's duration."),
    Column("questionnaire", "experiment_id", "int", "Study id."),
    Column("questionnaire", "listener", "str", "Opaque participant (session) id."),
    Column("questionnaire", "version", "int", "Counterbalancing version of the session."),
    Column("questionnaire", "session_status", "str", "completed / active / timed_out / abandoned / screened_out / withdrawn."),
    Column("questionnaire", "withdrawn", "bool", "Participant withdrawn: data kept, excluded from analysis."),
    Column("questionnaire", "headphone_passed", "bool", "Passed the headphone (Huggins pitch) check."),
    Column("questionnaire", "submitted_utc", "datetime", "When the questionnaire was submitted.", "UTC, ISO 8601"),
    *_question_columns(),
]
"""Every exported column: its table, type, meaning and unit."""


def dictionary_frame() -> pd.DataFrame:
    """The data dictionary as a table (table, column, type, meaning, unit)."""
    frame = pd.DataFrame([c.__dict__ for c in DICTIONARY], columns=["table", "column", "type", "meaning", "unit"])
    note = Column("all", "(text cells)", "", "In CSV exports a text cell starting with = + - @, a tab or a carriage "
                  "return is prefixed with an apostrophe (') so spreadsheets do not run it as a formula; strip it "
                  "to get the stored value. Parquet exports hold the values unchanged.")
    return pd.concat([frame, pd.DataFrame([note.__dict__])], ignore_index=True)


# ------------------------------------------------------------------------------------------------ writing


def escape_cell(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would treat as a formula (OWASP 'CSV injection')."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text columns are escaped cell by cell (numbers, booleans and times are left as they are)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out[name] = column.astype(object).map(escape_cell)
    return out


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise a table: CSV (UTF-8, escaped, ISO timestamps) or Parquet (pyarrow, types kept)."""
    if fmt == "csv":
        return escape_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow")
        return buffer.getvalue()
    raise ExperimentError(f"unknown export format {fmt!r}: choose csv or parquet")


def filename(experiment_id: int, name: str, fmt: str) -> str:
    """study-3-trials.csv; the dictionary is always CSV (people read it)."""
    if name == "dictionary":
        fmt = "csv"
    return f"study-{experiment_id}-{'data_dictionary' if name == 'dictionary' else name}.{fmt}"


def valid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of participants who did not withdraw (or were not withdrawn): the valid data."""
    return frame[~frame["withdrawn"].astype(bool)].reset_index(drop=True) if "withdrawn" in frame else frame


def export_bundle(engine: Engine, experiment_id: int, fmt: str, *, now: datetime | None = None,
                  code_version: str | None = None, previews: bool = False,
                  valid_only: bool = False) -> dict[str, bytes]:
    """All exported files of a study, by file name: the three tables, the dictionary, and export.json.

    With `previews` the tables hold the experimenter's preview sessions only (never mixed with participants).
    `valid_only` leaves withdrawn participants out (by default they are exported, flagged).
    """
    if fmt not in FORMATS:
        raise ExperimentError(f"unknown export format {fmt!r}: choose csv or parquet")
    files: dict[str, bytes] = {}
    rows: dict[str, int] = {}
    for name in (*TABLES, "dictionary"):
        frame = table(engine, experiment_id, name, previews=previews)
        if valid_only:
            frame = valid_rows(frame)
        files[filename(experiment_id, name, fmt)] = to_bytes(frame, "csv" if name == "dictionary" else fmt)
        if name != "dictionary":
            rows[name] = int(len(frame))
    from experiment.provenance import study_info

    manifest = {
        "schema": SCHEMA, "experiment_id": int(experiment_id), "study": study_info(engine, experiment_id),
        "format": fmt,
        "created_utc": (now or datetime.now(timezone.utc)).isoformat(), "code_version": code_version or tuneback_core.code_version(),
        "rows": rows, "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                                for n, b in files.items()},
        "sessions": "experimenter preview sessions only" if previews else "participants",
        "excluded": ("participants' sessions" if previews else "experimenter preview sessions")
                    + ("; withdrawn participants" if valid_only else ""),
        "csv_formula_escaping": "text cells starting with = + - @ TAB CR are prefixed with '" if fmt == "csv" else None,
    }
    files["export.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files


def write_export(engine: Engine, experiment_id: int, out_dir: str | Path, fmt: str, *,
                 now: datetime | None = None, valid_only: bool = False) -> dict[str, Path]:
    """Write the bundle's files into `out_dir` (created if need be); return their paths by file name."""
    files = export_bundle(engine, experiment_id, fmt, now=now, valid_only=valid_only)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"cannot create the export folder {out}: {exc.strerror or exc}") from exc
    paths = {}
    for name, data in files.items():
        path = out / name
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths[name] = path
    return paths


def zip_bundle(files: dict[str, bytes], folder: str) -> bytes:
    """The bundle as one zip (files under `folder/`), for a single download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
