"""analysis.report: the end-to-end analysis writes every figure to JSON and a self-contained HTML report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.report import analyze, jsonable
from analysis.synthetic import synthetic_table


@pytest.fixture(scope="module")
def results(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return analyze(study, out_dir=out, seed=3, power_reps=100), out


def test_listeners_at_85_percent_give_mean_near_85(results):
    group = results[0]["primary"]["group"]
    assert group["mean"] == pytest.approx(0.85, abs=0.05) and group["n_listeners"] == 14
    assert group["t_test"]["p_greater"] < 1e-6 and results[0]["primary"]["mixed_model"]["p_greater"] < 1e-6


def test_listeners_at_chance_not_significant(tmp_path):
    coin = synthetic_table(12, accuracy=0.5, seed=2)
    result = analyze(coin, out_dir=tmp_path, power_reps=20)["primary"]
    assert result["group"]["t_test"]["p_greater"] > 0.05 and result["group"]["wilcoxon"]["p_greater"] > 0.05
    assert result["mixed_model"]["p_greater"] > 0.05 and result["group"]["n_above_chance_holm"] == 0


def test_results_json_is_strict_and_complete(results):
    data, out = results
    saved = json.loads((out / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert saved["seed"] == 3 and saved["schema"] == "tuneback.analysis/1"
    assert saved["input"]["n_listeners"] == 16 and saved["input"]["source"]["kind"] == "dataframe"
    assert set(saved["primary"]) >= {"listeners", "group", "dprime", "mixed_model", "gee", "breakdowns",
                                     "learning", "response_times"}
    assert set(saved["sensitivity"]) == {"timeouts_excluded", "catch_and_fast_kept", "unheard_kept",
                                         "no_listener_exclusions"}
    assert saved["power"]["group"]["setup"]["seed"] == 3 and saved["power"]["group"]["setup"]["reps"] == 100
    assert saved["summary"] == data["summary"]


def test_exclusions_stated_both_ways(results):
    data = results[0]
    excluded = {r["listener"]: r["reasons"] for r in data["exclusions"]["primary"]["listeners_excluded"]}
    assert excluded == {"L0004": ["withdrawn"], "L0006": ["failed headphone check"]}
    assert data["sensitivity"]["no_listener_exclusions"]["group"]["n_listeners"] == 16
    trials = data["sensitivity"]["timeouts_excluded"]["group"]["pooled"]["trials"]
    assert trials == 14 * 24 - data["exclusions"]["primary"]["timed_out_trials"]


def test_report_html_is_self_contained(results):
    html = (results[1] / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "<script" not in html and "http://" not in html and "https://" not in html
    for heading in ("Exclusions", "Models", "d′", "Breakdowns", "learning", "Power", "With and without"):
        assert heading in html


def test_summary_text(results):
    summary = results[0]["summary"]
    assert "14 listeners" in summary and "Mixed model" in summary and "Power" in summary


def test_keep_failed_headphone(study, tmp_path):
    data = analyze(study, out_dir=tmp_path, exclude_failed_headphone=False, power_reps=20)
    assert data["primary"]["group"]["n_listeners"] == 15


def test_jsonable():
    value = {"a": np.float64(math.nan), 1: np.int64(3), "b": (np.bool_(True), pd.NA), "c": np.arange(2)}
    assert jsonable(value) == {"a": None, "1": 3, "b": [True, None], "c": [0, 1]}


@pytest.mark.parametrize("options", [{"group_accuracy": 0.4}, {"listener_accuracy": 2.0}, {"power_reps": 0},
                                     {"power_test": "z"}, {"learning_bin": 0}])
def test_bad_options(study, tmp_path, options):
    with pytest.raises(AnalysisError):
        analyze(study, out_dir=tmp_path, **options)


def test_unwritable_out_dir(study, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnalysisError, match="cannot write"):
        analyze(study, out_dir=tmp_path / "file" / "sub", power_reps=10)


@pytest.mark.parametrize("table", [pd.DataFrame(), "not a table"])
def test_bad_tables(tmp_path, table):
    with pytest.raises(AnalysisError):
        analyze(table, out_dir=tmp_path)


@pytest.mark.parametrize("outcomes", [
    {"solo": [1, 0, 1, 1, 1, 0, 1, 1]},
    {"a": [1] * 8, "b": [1] * 8, "c": [1] * 8},
    {"a": [0] * 8, "b": [0] * 8},
    {"a": [1, 0] * 4, "b": [0, 1] * 4, "c": [1, 1, 0, 0] * 2},
], ids=["one listener", "all correct", "all wrong", "all exactly at chance"])
def test_degenerate_studies_still_report(tmp_path, outcomes):
    from analysis_helpers import hand_table

    data = analyze(hand_table(outcomes), out_dir=tmp_path, power_reps=10)
    assert (tmp_path / "report.html").is_file() and data["summary"]
    json.loads((tmp_path / "results.json").read_text())


def test_report_lists_catch_and_too_fast_exclusions_both_ways(study, tmp_path):
    """Two listeners miss a catch trial and L0003 answers 5 trials too fast: the primary analysis drops them, the
    catch_and_fast_kept variant keeps them, and report.html and the paragraph say so."""
    table = study.copy()
    table["catch"], table["too_fast"] = False, False
    scored = table[~table["practice"] & table["answer"].notna()]
    fast = scored[scored["listener"] == "L0003"].index[:5]
    table.loc[fast, "too_fast"] = True
    extra = []
    for listener, ok in (("L0001", True), ("L0002", False), ("L0007", False)):
        last = table[table["listener"] == listener].iloc[-1].to_dict()
        side = last["correct_side"]
        extra.append(dict(last, trial_index=int(last["trial_index"]) + 1, catch=True, too_fast=False,
                          timed_out=False, answer=side if ok else ("B" if side == "A" else "A"), correct=ok))
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    data = analyze(table, out_dir=tmp_path, seed=3, power_reps=20)
    ex = data["exclusions"]["primary"]
    failed = {r["listener"] for r in ex["listeners_excluded"] if "failed catch trials" in r["reasons"]}
    assert failed == {"L0002", "L0007"} and ex["too_fast_trials"] == 5 and ex["catch_trials_not_scored"] == 3
    kept = data["sensitivity"]["catch_and_fast_kept"]["group"]
    assert kept["n_listeners"] == data["primary"]["group"]["n_listeners"] + 2
    assert kept["pooled"]["trials"] > data["primary"]["group"]["pooled"]["trials"]
    html = (tmp_path / "report.html").read_text()
    assert "Catch trials by listener" in html and "Too-fast answers by listener" in html
    assert "catch_and_fast_kept" in html and "missed too many catch trials" in data["paragraph"]
    assert "catch-trial failures and too-fast answers kept" in data["paragraph"]
