"""Read an export file or the study database into the tidy trial table (docs/contracts.md §2).

Every entry point ends in `tidy`, which checks the columns the analysis needs, normalises their types
(CSV gives strings, Parquet gives types) and checks the rows agree with each other, so the statistics
never see a half-valid table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from tuneback_core.errors import TunebackError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REQUIRED = (
    "listener", "version", "practice", "trial_index", "item", "song", "position", "eeg_participant",
    "correct_side", "answer", "correct", "timed_out", "rt_ms", "withdrawn", "headphone_passed",
)
OPTIONAL = (
    "experiment_id", "foil_song", "foil_eeg_participant", "match_clip", "foil_clip", "presented_utc",
    "answered_utc", "n_plays", "session_status", "prolific_pid", "catch", "too_fast", "simulated", "playback",
)
OPTIONAL_BOOL_COLUMNS = ("catch", "too_fast")
"""Flags added by issue 15 (catch trials, too-fast answers): False where an older export lacks them."""
SIM_PID_PREFIX = "sim-"
"""Prolific ids of simulated listeners (experiment/simulation.py): `simulated` where an older export lacks it."""
EXPORT_JSON = "export.json"
BOOL_COLUMNS = ("practice", "correct", "timed_out", "withdrawn", "headphone_passed")
ID_COLUMNS = ("listener", "item", "correct_side")
LABEL_COLUMNS = ("song", "position", "eeg_participant")
TEXT_COLUMNS = ID_COLUMNS + LABEL_COLUMNS + (
    "answer", "foil_song", "foil_eeg_participant", "match_clip", "foil_clip", "session_status", "prolific_pid",
)
SIDES = ("A", "B")
MISSING_LABEL = "(missing)"
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_SUFFIXES = {".csv": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def load_export(path: str | Path, *, experiment_id: int | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet export, or the admin panel's zip of one, so an analyst needs only the file.

    The export's export.json (beside the trials file, or in the zip) says which study and data set it holds.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"export file not found: {path}")
    if path.suffix.lower() == ".zip":
        return _load_zip(path, experiment_id)
    frame = _read(path)
    source = {"kind": "export", "path": str(path), "sha256": _sha256(path), "format": _format(path)}
    table = tidy(frame, experiment_id=experiment_id, source=source, where=f"export {path.name}")
    table.attrs["study"] = _export_study(path.parent / EXPORT_JSON)
    return table


def _load_zip(path: Path, experiment_id: int | None) -> pd.DataFrame:
    """The trials table and export.json of an admin-panel zip (study-N-trials.csv or .parquet inside a folder)."""
    import io
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            trials = [n for n in names if Path(n).name.endswith(("-trials.csv", "-trials.parquet"))]
            if len(trials) != 1:
                raise AnalysisError(f"{path} holds {len(trials)} trials tables (study-N-trials.csv or .parquet); "
                                    "expected one: give the panel's 'all tables' zip or the trials file itself")
            data = archive.read(trials[0])
            meta = [n for n in names if Path(n).name == EXPORT_JSON]
            study = (json.loads(archive.read(meta[0])).get("study") or {}) if meta else {}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise AnalysisError(f"cannot read the zip {path}: {exc}") from exc
    kind = "parquet" if trials[0].endswith(".parquet") else "csv"
    try:
        frame = pd.read_parquet(io.BytesIO(data)) if kind == "parquet" else pd.read_csv(
            io.BytesIO(data), dtype={c: "string" for c in TEXT_COLUMNS}, low_memory=False)
    except (OSError, ValueError, ImportError) as exc:
        raise AnalysisError(f"cannot read {trials[0]} in {path}: {exc}") from exc
    source = {"kind": "export", "path": f"{path}!{trials[0]}", "sha256": _sha256(path), "format": kind}
    table = tidy(frame, experiment_id=experiment_id, source=source, where=f"export {path.name}")
    table.attrs["study"] = study
    return table


def _export_study(meta: Path) -> dict:
    """The `study` block of an export.json beside the trials file ({} when absent or unreadable)."""
    import json

    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("study") or {}
    except (OSError, ValueError, AttributeError):
        return {}


def load_from_db(url: str, experiment_id: int) -> pd.DataFrame:
    """Read one study from the database through `experiment.tidy`, the contract's one producer."""
    import sqlalchemy as sa

    shown = _safe_url(url)
    _check_sqlite_file(url, shown)
    trial_table = _import_trial_table()
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise AnalysisError(f"cannot open database {shown}: {exc}") from exc
    try:
        frame = _read_study(trial_table, engine, experiment_id, shown)
        if frame is None or len(frame) == 0:
            raise AnalysisError(_empty_study_message(engine, experiment_id, shown))
        study = _db_study(engine, experiment_id)
    finally:
        engine.dispose()
    source = {"kind": "database", "url": shown, "experiment_id": int(experiment_id)}
    table = tidy(frame, experiment_id=experiment_id, source=source, where=f"study {experiment_id} in {shown}")
    table.attrs["study"] = study
    return table


def _db_study(engine: Engine, experiment_id: int) -> dict:
    """The study's name, state, places and data set from the database (experiment.provenance)."""
    try:
        from experiment.provenance import study_info
    except ImportError:
        return {}
    try:
        return study_info(engine, int(experiment_id))
    except Exception:  # noqa: BLE001 - provenance is a label; the trials were read, the analysis goes on
        return {}


def tidy(frame: pd.DataFrame, *, experiment_id: int | None = None, source: dict | None = None,
         where: str = "table") -> pd.DataFrame:
    """Validate and normalise a trial table, so every later step can trust types and consistency."""
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{where} lacks required column(s): {', '.join(missing)}")
    table = _select_study(frame.copy(), experiment_id, where)
    if table.empty:
        raise AnalysisError(f"{where} has no trials")
    table = _normalise(table, where)
    _check_consistency(table, where)
    table = table.sort_values(["listener", "practice", "trial_index"], ascending=[True, False, True])
    table = table.reset_index(drop=True)
    table.attrs["source"] = dict(source or {"kind": "dataframe"})
    table.attrs["study"] = dict(frame.attrs.get("study") or {})
    return table


def describe(table: pd.DataFrame) -> dict:
    """Describe the input in a few numbers, so results.json says exactly what it came from."""
    scored = table[~table["practice"]]
    ids = sorted(int(i) for i in table["experiment_id"].dropna().unique()) if "experiment_id" in table else []
    return {
        "source": table.attrs.get("source", {"kind": "dataframe"}),
        "experiment_ids": ids,
        "n_rows": int(len(table)),
        "n_practice_rows": int(table["practice"].sum()),
        "n_listeners": int(table["listener"].nunique()),
        "n_listeners_with_scored_trials": int(scored["listener"].nunique()),
        "versions": sorted(int(v) for v in table["version"].unique()),
        "n_items": int(scored[["version", "item"]].drop_duplicates().shape[0]),
        "songs": sorted(str(s) for s in scored["song"].unique()),
    }


def _read(path: Path) -> pd.DataFrame:
    """Read the file by its suffix, turning any reader failure into one clear message."""
    kind = _format(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={c: "string" for c in TEXT_COLUMNS}, low_memory=False)
    except (OSError, ValueError, ImportError) as exc:
        raise AnalysisError(f"cannot read {kind} export {path}: {exc}") from exc


def _format(path: Path) -> str:
    """Name the reader a path needs; reject suffixes we cannot read."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None or (path.suffix.lower() == ".gz" and not path.name.lower().endswith(".csv.gz")):
        raise AnalysisError(f"{path}: unknown export format (expected .csv, .csv.gz, .parquet or .pq)")
    return kind


def _sha256(path: Path) -> str:
    """Hash the input so a result can be traced to the exact bytes it came from."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _select_study(frame: pd.DataFrame, experiment_id: int | None, where: str) -> pd.DataFrame:
    """Keep one study's rows; an export with several studies must say which one is meant."""
    if "experiment_id" not in frame.columns:
        return frame
    ids = pd.to_numeric(frame["experiment_id"], errors="coerce")
    present = sorted(int(i) for i in ids.dropna().unique())
    if experiment_id is None:
        if len(present) > 1:
            raise AnalysisError(f"{where} holds several studies ({_join(present)}); choose one with --study")
        return frame
    chosen = frame[ids == int(experiment_id)]
    if chosen.empty and present:
        raise AnalysisError(f"unknown study {experiment_id}: {where} holds study {_join(present)}")
    return chosen


def _normalise(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """Give every column the contract's type, whatever the file format made of it."""
    for column in BOOL_COLUMNS:
        table[column] = _to_bool(table[column], column, where)
    for column in OPTIONAL_BOOL_COLUMNS:
        table[column] = _to_bool(table[column], column, where) if column in table else False
    by_pid = table["prolific_pid"].astype("string").str.startswith(SIM_PID_PREFIX).fillna(False).astype(bool) \
        if "prolific_pid" in table else False
    flagged = _to_bool(table["simulated"], "simulated", where) if "simulated" in table else False
    table["simulated"] = flagged | by_pid
    table["playback"] = (_to_text(table["playback"], "playback", where, required=False).fillna("not_logged")
                         if "playback" in table else "not_logged")
    for column in ("version", "trial_index"):
        table[column] = _to_int(table[column], column, where)
    for column in ID_COLUMNS:
        table[column] = _to_text(table[column], column, where, required=True)
    for column in LABEL_COLUMNS:
        table[column] = _to_text(table[column], column, where, required=False).fillna(MISSING_LABEL)
    for column in ("correct_side", "answer"):
        table[column] = _to_text(table[column], column, where, required=False).str.upper()
    table["rt_ms"] = pd.to_numeric(table["rt_ms"], errors="coerce").astype(float)
    _check_sides(table, where)
    return table


def _to_bool(series: pd.Series, column: str, where: str) -> pd.Series:
    """Read True/False, 1/0 or yes/no; a null means False except for `practice`, where it is an error."""
    if series.dtype == bool:
        return series
    if column == "practice" and series.isna().any():
        raise AnalysisError(f"{where}: column practice has {int(series.isna().sum())} empty value(s)")
    text = series.astype("string").str.strip().str.lower()
    bad = text.notna() & ~text.isin(_TRUE | _FALSE)
    if bad.any():
        examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
        raise AnalysisError(f"{where}: column {column} must be true/false, found {examples}")
    return text.isin(_TRUE).fillna(False).astype(bool)


def _to_int(series: pd.Series, column: str, where: str) -> pd.Series:
    """Read whole numbers; anything else names the column and the bad values."""
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() | (numbers.notna() & (numbers != np.round(numbers)))
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].unique()[:3])
        raise AnalysisError(f"{where}: column {column} must hold whole numbers, found {examples}")
    return numbers.astype(int)


def _to_text(series: pd.Series, column: str, where: str, *, required: bool) -> pd.Series:
    """Read identifiers as text (CSV must not turn '007' into 7); required ones may not be empty."""
    text = series.astype("string").str.strip()
    text = text.mask(text == "")
    if required and text.isna().any():
        raise AnalysisError(f"{where}: column {column} has {int(text.isna().sum())} empty value(s)")
    return text.astype(object).where(text.notna(), None)


def _check_sides(table: pd.DataFrame, where: str) -> None:
    """Sides are A or B (answer may be empty: time-out or not reached)."""
    for column in ("correct_side", "answer"):
        values = table[column].dropna()
        bad = sorted(set(values) - set(SIDES))
        if bad:
            raise AnalysisError(f"{where}: column {column} must be A or B, found {_join(bad[:3])}")


def _check_consistency(table: pd.DataFrame, where: str) -> None:
    """`correct` must equal answer == correct_side, and a listener shows each trial number once."""
    expected = table["answer"].notna() & (table["answer"] == table["correct_side"])
    wrong = table["correct"] != expected
    if wrong.any():
        first = table[wrong].iloc[0]
        raise AnalysisError(
            f"{where}: column correct disagrees with answer == correct_side in {int(wrong.sum())} row(s) "
            f"(first: listener {first['listener']}, trial {first['trial_index']})")
    duplicated = table.duplicated(["listener", "practice", "trial_index"])
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise AnalysisError(
            f"{where}: {int(duplicated.sum())} duplicated trial(s) "
            f"(first: listener {first['listener']}, trial {first['trial_index']})")


def _import_trial_table() -> Callable[..., pd.DataFrame]:
    """Import the producer lazily: analysis works from an export without the experiment package."""
    try:
        from experiment.tidy import trial_table
    except ImportError as exc:
        raise AnalysisError(
            f"reading the database needs experiment.tidy ({exc}); analyse an export with --export instead"
        ) from exc
    return trial_table


def _read_study(trial_table: Callable[..., pd.DataFrame], engine: Engine, experiment_id: int,
                shown: str) -> pd.DataFrame:
    """Call the producer, turning its failures into one line that names the study and the database."""
    import sqlalchemy as sa

    try:
        return trial_table(engine, int(experiment_id))
    except TunebackError as exc:
        raise AnalysisError(f"study {experiment_id} in {shown}: {exc}") from exc
    except LookupError as exc:
        raise AnalysisError(f"unknown study {experiment_id} in {shown}") from exc
    except sa.exc.SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise AnalysisError(f"cannot read study {experiment_id} from {shown}: {detail}") from exc


def _empty_study_message(engine: Engine, experiment_id: int, shown: str) -> str:
    """Say whether an empty answer means an unknown study or one with no trials yet."""
    exists = _study_exists(engine, experiment_id)
    if exists is False:
        return f"unknown study {experiment_id} in {shown}"
    if exists is True:
        return f"study {experiment_id} in {shown} has no trials yet"
    return f"study {experiment_id} in {shown} has no trials (unknown study, or no data yet)"


def _study_exists(engine: Engine, experiment_id: int) -> bool | None:
    """Look the study up in the `experiment` table; None when the schema does not let us tell."""
    import sqlalchemy as sa

    try:
        if not sa.inspect(engine).has_table("experiment"):
            return None
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT 1 FROM experiment WHERE id = :id"), {"id": int(experiment_id)})
            return row.first() is not None
    except sa.exc.SQLAlchemyError:
        return None


def _check_sqlite_file(url: str, shown: str) -> None:
    """Refuse a SQLite path that does not exist: SQLAlchemy would silently create an empty database."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise AnalysisError(f"not a database URL: {shown} ({exc})") from exc
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:" \
            and not database.startswith("file:") and not Path(database).is_file():
        raise AnalysisError(f"database file not found: {database}")


def _safe_url(url: str) -> str:
    """Show a URL without its password."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def _join(values: Iterable[object]) -> str:
    """Comma-join values for a message."""
    return ", ".join(str(v) for v in values)
