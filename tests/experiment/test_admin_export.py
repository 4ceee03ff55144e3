"""Exports: CSV and Parquet read back with pandas give the database's rows; formulas are escaped in CSV;
the data dictionary covers every column; the CLI writes the same files."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from admin_support import (  # noqa: F401 - fixtures
    AdminClient, add_admin, admin, fill, lite, lite_app, rows, scalar, study_template,
)
from experiment.db import make_engine
from experiment.export import DICTIONARY, FORMULA_PREFIXES, escape_cell, events_table, questionnaire_table
from experiment.models import AuditLog, Event, ParticipantSession, Questionnaire
from experiment.tidy import trial_table

FORMULA = '=HYPERLINK("http://evil.example","click")'


def tables(url: str, experiment_id: int) -> dict[str, pd.DataFrame]:
    engine = make_engine(url)
    try:
        return {"trials": trial_table(engine, experiment_id), "events": events_table(engine, experiment_id),
                "questionnaire": questionnaire_table(engine, experiment_id)}
    finally:
        engine.dispose()


def test_export_round_trip(app, study, clock):
    add_admin(study.url)
    admin = AdminClient(app)
    assert admin.login().status_code == 302
    fill(study.url, study.experiment_id, clock, {
        "a": {"pid": "-PID1", "questionnaire": {"age": "25-34", "strategy": FORMULA, "problems": ""}},
        "b": {"trials": 7, "side": "B"},
    })
    admin.post(f"/admin/studies/{study.experiment_id}/preview", {"version": "1"})  # never exported
    db = tables(study.url, study.experiment_id)
    assert len(db["trials"]) == 28 + 11 and len(db["questionnaire"]) == 1
    n_events = scalar(study.url, sa.select(sa.func.count()).select_from(Event).join(ParticipantSession)
                      .where(ParticipantSession.preview.is_(False)))
    assert len(db["events"]) == n_events > 0
    base = f"/admin/studies/{study.experiment_id}/export"
    for name, frame in db.items():
        parquet = admin.get(f"{base}/{name}.parquet")
        assert parquet.status_code == 200 and "attachment" in parquet.headers["Content-Disposition"]
        assert_same(pd.read_parquet(io.BytesIO(parquet.data)), frame)
        csv = admin.get(f"{base}/{name}.csv")
        assert csv.status_code == 200 and csv.mimetype == "text/csv"
        back = pd.read_csv(io.BytesIO(csv.data), keep_default_na=False, na_values=[""], dtype=str)
        assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
        for column in frame.columns:
            got = [None if pd.isna(v) else v for v in back[column]]
            want = [None if pd.isna(v) else _csv_text(escape_cell(v)) for v in frame[column].astype(object)]
            assert got == want, column
    trials = pd.read_csv(io.BytesIO(admin.get(f"{base}/trials.csv").data))
    assert set(trials["prolific_pid"].dropna()) == {"'-PID1"}  # escaped: '-' starts a formula
    q_csv = pd.read_csv(io.BytesIO(admin.get(f"{base}/questionnaire.csv").data))
    assert q_csv.loc[0, "strategy"] == "'" + FORMULA
    assert pd.read_parquet(io.BytesIO(admin.get(f"{base}/questionnaire.parquet").data)).loc[0, "strategy"] == FORMULA
    exports = rows(study.url, sa.select(AuditLog.detail).where(AuditLog.action == "export"))
    assert len(exports) == 9 and {d["format"] for (d,) in exports} == {"csv", "parquet"}


def assert_same(back: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Same columns, values and types; text may come back as pandas' string dtype instead of object."""
    def plain(f: pd.DataFrame) -> pd.DataFrame:
        return f.astype(object).map(lambda v: None if pd.isna(v) else v)

    pd.testing.assert_frame_equal(plain(back), plain(frame))
    for column in frame.columns:
        if frame[column].dtype != object:
            assert back[column].dtype == frame[column].dtype, column


def _csv_text(value) -> str:
    """How pandas writes a value into CSV (booleans, numbers and times as their text)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", FORMULA])
def test_formula_cells_are_escaped(value):
    assert value.startswith(FORMULA_PREFIXES)
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["A", "song1", "", "1-2", "25-34", 3, -1.5, None, True])
def test_harmless_cells_are_untouched(value):
    assert escape_cell(value) == value


def test_dictionary_covers_every_column(admin, lite, clock):
    fill(lite.url, lite.experiment_id, clock, {"a": {}})
    documented = {(c.table, c.column) for c in DICTIONARY}
    for name, frame in tables(lite.url, lite.experiment_id).items():
        assert {(name, c) for c in frame.columns} <= documented, name
    assert all(c.meaning and c.type for c in DICTIONARY)
    assert next(c for c in DICTIONARY if c.column == "rt_ms").unit == "ms"
    response = admin.get(f"/admin/studies/{lite.experiment_id}/export/dictionary.csv")
    dictionary = pd.read_csv(io.BytesIO(response.data))
    assert list(dictionary.columns) == ["table", "column", "type", "meaning", "unit"]
    assert "apostrophe" in " ".join(dictionary["meaning"])


def test_zip_bundle_and_empty_study(admin, lite):
    response = admin.get(f"/admin/studies/{lite.experiment_id}/export.parquet.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = {n.split("/", 1)[1] for n in archive.namelist()}
        manifest = json.loads(archive.read(f"study-{lite.experiment_id}-export-parquet/export.json"))
        trials = pd.read_parquet(io.BytesIO(archive.read(
            f"study-{lite.experiment_id}-export-parquet/study-{lite.experiment_id}-trials.parquet")))
    assert names == {"export.json", *(f"study-{lite.experiment_id}-{n}" for n in (
        "trials.parquet", "events.parquet", "questionnaire.parquet", "playback.parquet", "data_dictionary.csv"))}
    assert manifest["rows"] == {"trials": 0, "events": 0, "questionnaire": 0, "playback": 0}
    assert trials.empty and str(trials["presented_utc"].dtype) == "datetime64[us, UTC]"


def test_cli_export_writes_the_same_tables(lite, clock, tmp_path):
    from experiment.cli import cli

    fill(lite.url, lite.experiment_id, clock, {"a": {}, "b": {"trials": 3}})
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", "--study", str(lite.experiment_id), "--format", "parquet",
                                      "--out", str(out), "--db", lite.url])
    assert result.exit_code == 0, result.output
    db = tables(lite.url, lite.experiment_id)
    for name, frame in db.items():
        assert_same(pd.read_parquet(out / f"study-{lite.experiment_id}-{name}.parquet"), frame)
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["rows"]["trials"] == len(db["trials"]) == 28 + 7
    result = CliRunner().invoke(cli, ["export", "--study", str(lite.experiment_id), "--format", "csv",
                                      "--out", str(out), "--db", lite.url])
    assert result.exit_code == 0 and (out / f"study-{lite.experiment_id}-trials.csv").is_file()
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "export")) == 2
    missing = CliRunner().invoke(cli, ["export", "--study", "99", "--out", str(out), "--db", lite.url])
    assert "no experiment with id 99" in str(missing.exception)


def test_analysis_reads_the_csv_export(admin, lite, clock, tmp_path):
    load = pytest.importorskip("analysis.load")
    fill(lite.url, lite.experiment_id, clock, {"a": {}, "b": {}})
    path = tmp_path / "trials.csv"
    path.write_bytes(admin.get(f"/admin/studies/{lite.experiment_id}/export/trials.csv").data)
    table = load.load_export(path)
    assert len(table) == 56 and table["listener"].nunique() == 2
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(Questionnaire)) == 2
