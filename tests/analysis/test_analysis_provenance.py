"""Provenance first in every output (issue 29): the study, its data set, simulated listeners, provisional reports."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pandas as pd
import pytest

from analysis.load import load_export, tidy
from analysis.report import analyze
from analysis.synthetic import synthetic_table

RUNNING = {"id": 7, "name": "tuneback demo (SIMULATED data) abc", "state": "open", "places": 16, "completed": 1,
           "dataset": {"name": "simulated-nmedh", "simulated": True},
           "headphone_check": {"test": "Huggins pitch", "rule": "at least 5 of 6 right; fail: screened out",
                               "expected_loudspeaker_pass_rate": 0.2, "expected_rate_source": "Milne et al. 2021"}}


def _with_study(table: pd.DataFrame, study: dict) -> pd.DataFrame:
    table.attrs["study"] = study
    return table


def _run(table: pd.DataFrame, tmp_path) -> dict:  # noqa: ANN001
    return analyze(table, out_dir=tmp_path, power_reps=20, seed=1)


def test_a_running_study_with_one_listener_reads_as_provisional_with_no_none(tmp_path):
    """Issue 29: one listener, 3 trials read as final, with 'needs ≥ None correct' and 'Zero of 1 listener were'."""
    table = synthetic_table(1, trials=3, accuracy=0.5, seed=2, experiment_id=7)
    results = _run(_with_study(table, RUNNING), tmp_path)
    text = results["paragraph"] + "\n" + results["summary"]
    html = (tmp_path / "report.html").read_text()
    assert "PROVISIONAL" in results["summary"] and "1 of 16 sessions complete" in results["summary"]
    assert "Provisional: study 7 is still open, 1 of 16 sessions complete" in results["paragraph"]
    assert "None" not in text and "None" not in html and "≥ None" not in text
    assert not re.search(r"\bZero of 1 listener were\b", text) and "The one listener was" in text
    assert results["provenance"]["status"] == "provisional"
    assert "at least 5 of 6 right" in results["summary"] and "about 20% of loudspeaker users" in html


def test_simulated_data_set_and_listeners_are_named_in_summary_paragraph_and_report(tmp_path):
    table = synthetic_table(4, seed=3, experiment_id=7)
    table["prolific_pid"] = [f"sim-abc-{i:04d}" for i in table["listener"].factorize()[0]]
    results = _run(_with_study(table, {**RUNNING, "state": "closed", "completed": 4}), tmp_path)
    summary, html = results["summary"], (tmp_path / "report.html").read_text()
    for text in (summary, html):
        assert "SIMULATED DATA SET" in text and "SIMULATED LISTENERS" in text
        assert "Study 7" in text and "tuneback demo (SIMULATED data) abc" in text
    assert "simulated EEG" in results["paragraph"] and "All listeners were simulated" in results["paragraph"]
    assert results["provenance"]["listeners_kind"] == "simulated" and results["provenance"]["status"] == "final"
    assert not results["exclusions"]["primary"]["listeners_excluded"]  # simulated only: analysed, labelled


def test_simulated_listeners_beside_real_ones_are_excluded_by_the_stated_rule(tmp_path):
    table = synthetic_table(6, seed=4)
    first = table["listener"].unique()[:2]
    table["simulated"] = table["listener"].isin(first)
    results = _run(table, tmp_path)
    excluded = {e["listener"]: e["reasons"] for e in results["exclusions"]["primary"]["listeners_excluded"]}
    assert excluded == {str(k): ["simulated (not a person)"] for k in first}
    assert any("simulated listeners are excluded when real listeners are present" in r
               for r in results["exclusions"]["primary"]["rules_text"])
    assert results["primary"]["group"]["n_listeners"] == 4


def test_analyze_reads_the_panels_zip_with_its_export_json(tmp_path):
    """Issue 29: `tuneback analyze --export` refused the admin panel's zip."""
    table = synthetic_table(3, seed=5, experiment_id=7)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("study-7-export/study-7-trials.csv", table.to_csv(index=False))
        archive.writestr("study-7-export/export.json", json.dumps({"study": RUNNING}))
    path = tmp_path / "study-7.zip"
    path.write_bytes(buffer.getvalue())
    loaded = load_export(path)
    assert len(loaded) == len(table) and loaded.attrs["study"]["name"] == RUNNING["name"]
    assert tidy(loaded).attrs["study"]["state"] == "open"


def test_a_zip_without_a_trials_table_is_one_clear_error(tmp_path):
    from analysis.errors import AnalysisError

    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/readme.txt", "nothing")
    with pytest.raises(AnalysisError, match="holds 0 trials tables"):
        load_export(path)


def test_an_open_study_with_every_place_filled_is_complete_not_provisional(tmp_path):
    table = synthetic_table(2, seed=6, experiment_id=7)
    results = _run(_with_study(table, {**RUNNING, "places": 2, "completed": 2}), tmp_path)
    assert results["provenance"]["status"] == "final" and "PROVISIONAL" not in results["summary"]
    assert "every place filled" in results["summary"]
