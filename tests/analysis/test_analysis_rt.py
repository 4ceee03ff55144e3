"""analysis.rt: medians and quartiles by hand; time-outs carry no response time."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from analysis_helpers import hand_table
from scipy.stats import spearmanr

from analysis.exclusions import score
from analysis.listeners import per_listener
from analysis.load import tidy
from analysis.rt import describe_rt, rt_summary


def test_describe_by_hand():
    rt = np.array([4000.0, 5000.0, 6000.0, 9000.0, 30000.0])
    result = describe_rt(rt)
    assert result["median_ms"] == statistics.median(rt) and result["mean_ms"] == statistics.mean(rt)
    assert (result["q25_ms"], result["q75_ms"]) == (5000.0, 9000.0)
    assert result["sd_ms"] == pytest.approx(statistics.stdev(rt))


def test_describe_empty():
    assert describe_rt(np.array([])) == {"n": 0}


@pytest.fixture(scope="module")
def summary():
    table = hand_table({"a": [1, 1, 0, 1], "b": [0, 1, 1, 1], "c": [0, 0, 0, 1]}, timed_out={"a": [3]})
    scored, _ = score(tidy(table))
    return rt_summary(scored, per_listener(scored)), scored


def test_split_by_outcome_excludes_timeouts(summary):
    result, scored = summary
    assert result["overall"]["n"] == 11 and result["timed_out_trials"] == 1
    # trial k has rt 5000 + 100 k; correct answers at k = 0,1 (a), 1,2,3 (b), 3 (c)
    assert result["correct_trials"]["median_ms"] == statistics.median([5000, 5100, 5100, 5200, 5300, 5300])
    assert result["error_trials"]["n"] == 5


def test_listener_medians_and_correlation(summary):
    result, scored = summary
    medians = scored[~scored["timed_out"]].groupby("listener")["rt_ms"].median()
    assert result["listener_medians"]["median_ms"] == statistics.median(medians)
    acc = scored.groupby("listener")["correct"].mean().reindex(medians.index)
    expected = spearmanr(acc, medians).statistic
    assert result["accuracy_vs_median_rt"]["spearman_rho"] == pytest.approx(expected)


def test_no_response_times():
    table = hand_table({"a": [1, 0]}, timed_out={"a": [0, 1]})
    scored, _ = score(tidy(table))
    assert "error" in rt_summary(scored, per_listener(scored))
