"""analysis.load: exports and the database become one validated tidy table; bad input gets one clear line."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest
import sqlalchemy as sa
from analysis_helpers import counts_table, hand_table

from analysis.errors import AnalysisError
from analysis.load import OPTIONAL, REQUIRED, describe, load_export, load_from_db, tidy
from tuneback.errors import TunebackError


@pytest.fixture
def table() -> pd.DataFrame:
    """Two listeners whose ids look like numbers, to catch CSV turning '007' into 7."""
    t = counts_table({"007": (20, 24), "010": (12, 24)})
    return t


def test_error_is_a_tuneback_error():
    assert issubclass(AnalysisError, TunebackError)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_export_round_trip(tmp_path, table, suffix):
    path = tmp_path / f"export{suffix}"
    table.to_parquet(path) if suffix == ".parquet" else table.to_csv(path, index=False)
    loaded = load_export(path)
    assert sorted(loaded["listener"].unique()) == ["007", "010"]
    assert loaded["correct"].dtype == bool and loaded["practice"].dtype == bool
    assert loaded.loc[~loaded["practice"]].groupby("listener")["correct"].sum().to_dict() == {"007": 20, "010": 12}
    assert loaded.attrs["source"]["kind"] == "export" and len(loaded.attrs["source"]["sha256"]) == 64


def test_csv_text_booleans_and_lowercase_sides(tmp_path, table):
    table = table.assign(practice=table["practice"].map({True: "yes", False: "no"}),
                         answer=table["answer"].str.lower(), correct_side=table["correct_side"].str.lower())
    path = tmp_path / "export.csv"
    table.to_csv(path, index=False)
    loaded = load_export(path)
    assert loaded["practice"].sum() == 4 and set(loaded["answer"].dropna()) == {"A", "B"}


@pytest.mark.parametrize("column", REQUIRED)
def test_missing_required_column_is_named(table, column):
    with pytest.raises(AnalysisError, match=column):
        tidy(table.drop(columns=[column]))


def test_optional_columns_may_be_absent(table):
    present = [c for c in OPTIONAL if c in table.columns]  # hand tables predate the catch/too_fast flags
    assert len(tidy(table.drop(columns=present))) == len(table)


def test_missing_columns_all_named(table):
    with pytest.raises(AnalysisError, match="listener, version"):
        tidy(table.drop(columns=["listener", "version"]))


def _two_studies(t):
    return pd.concat([t, t.assign(experiment_id=2)])


@pytest.mark.parametrize("change, message", [
    (lambda t: t.iloc[0:0], "has no trials"),
    (lambda t: t.assign(correct="maybe"), "must be true/false"),
    (lambda t: t.assign(practice=None), "practice has"),
    (lambda t: t.assign(trial_index=1.5), "whole numbers"),
    (lambda t: t.assign(correct_side="C"), "must be A or B"),
    (lambda t: t.assign(listener=""), "listener has"),
    (lambda t: t.assign(correct=~t["correct"]), "disagrees"),
    (lambda t: pd.concat([t, t.iloc[[5]]]), "duplicated"),
    (_two_studies, "several studies"),
])
def test_bad_tables(table, change, message):
    with pytest.raises(AnalysisError, match=message):
        tidy(change(table))


def test_not_a_dataframe():
    with pytest.raises(AnalysisError, match="DataFrame"):
        tidy([1, 2, 3])


def test_study_chosen_from_export(tmp_path, table):
    path = tmp_path / "two.csv"
    _two_studies(table).to_csv(path, index=False)
    assert len(load_export(path, experiment_id=2)) == len(table)
    with pytest.raises(AnalysisError, match="unknown study 9"):
        load_export(path, experiment_id=9)


@pytest.mark.parametrize("name, message", [("missing.csv", "not found"), ("export.xlsx", "unknown export format")])
def test_bad_export_paths(tmp_path, name, message):
    (tmp_path / "export.xlsx").write_text("x")
    with pytest.raises(AnalysisError, match=message):
        load_export(tmp_path / name)


def test_unreadable_parquet(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(AnalysisError, match="cannot read parquet"):
        load_export(tmp_path / "broken.parquet")


def test_describe(table):
    info = describe(tidy(table))
    assert info["n_listeners"] == 2 and info["n_rows"] == 52 and info["n_practice_rows"] == 4
    assert info["versions"] == [1, 2] and info["experiment_ids"] == [1] and info["n_items"] == 48


@pytest.fixture
def fake_tidy(monkeypatch):
    """Install a stand-in experiment.tidy whose trial_table returns or raises what a test sets."""
    module = types.ModuleType("experiment.tidy")
    behaviour = {}

    def trial_table(engine, experiment_id):
        assert isinstance(engine, sa.engine.Engine)
        if isinstance(behaviour.get("result"), Exception):
            raise behaviour["result"]
        return behaviour["result"]

    module.trial_table = trial_table
    monkeypatch.setitem(sys.modules, "experiment.tidy", module)
    return behaviour


def test_load_from_db_uses_experiment_tidy(fake_tidy, sqlite_url, table):
    sa.create_engine(sqlite_url).connect().close()
    fake_tidy["result"] = table
    loaded = load_from_db(sqlite_url, 1)
    assert len(loaded) == len(table) and loaded.attrs["source"] == {
        "kind": "database", "url": sqlite_url, "experiment_id": 1}


def _sqlite_with_experiment(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE experiment (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO experiment (id) VALUES (1)"))
    engine.dispose()


@pytest.mark.parametrize("study, result, message", [
    (5, pd.DataFrame(), "unknown study 5"),
    (1, pd.DataFrame(), "study 1 .* has no trials yet"),
    (5, LookupError("no such experiment"), "unknown study 5"),
    (5, TunebackError("experiment 5 does not exist"), "experiment 5 does not exist"),
    (5, sa.exc.OperationalError("SELECT", {}, Exception("no such table: session")), "cannot read study 5"),
])
def test_db_bad_studies(fake_tidy, sqlite_url, study, result, message):
    _sqlite_with_experiment(sqlite_url)
    fake_tidy["result"] = result
    with pytest.raises(AnalysisError, match=message):
        load_from_db(sqlite_url, study)


def test_db_empty_without_experiment_table(fake_tidy, sqlite_url):
    sa.create_engine(sqlite_url).connect().close()
    fake_tidy["result"] = pd.DataFrame()
    with pytest.raises(AnalysisError, match="unknown study, or no data yet"):
        load_from_db(sqlite_url, 3)


def test_db_missing_sqlite_file_is_not_created(tmp_path, fake_tidy):
    with pytest.raises(AnalysisError, match="database file not found"):
        load_from_db(f"sqlite:///{tmp_path / 'nope.sqlite'}", 1)
    assert not (tmp_path / "nope.sqlite").exists()


def test_db_without_experiment_package(monkeypatch, sqlite_url):
    sa.create_engine(sqlite_url).connect().close()
    monkeypatch.setitem(sys.modules, "experiment.tidy", None)
    with pytest.raises(AnalysisError, match="--export"):
        load_from_db(sqlite_url, 1)


def test_db_url_password_hidden(fake_tidy):
    fake_tidy["result"] = pd.DataFrame()
    with pytest.raises(AnalysisError) as caught:
        load_from_db("postgresql+psycopg://user:secret@127.0.0.1:1/none", 1)
    assert "secret" not in str(caught.value)


def test_db_with_timestamps_and_extra_rows_from_hand_table(fake_tidy, sqlite_url):
    _sqlite_with_experiment(sqlite_url)
    fake_tidy["result"] = hand_table({"a": [1, 0, 1]}, timed_out={"a": [1]})
    loaded = load_from_db(sqlite_url, 1)
    assert loaded["timed_out"].sum() == 1
