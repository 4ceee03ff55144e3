"""analysis.exclusions: every rule applied both ways, and the stated record of what was left out."""

from __future__ import annotations

import pytest
from analysis_helpers import hand_table

from analysis.errors import AnalysisError
from analysis.exclusions import Rules, score, variants
from analysis.load import tidy

ALL = [1] * 6


@pytest.fixture
def table():
    """ok: clean; slow: 2 time-outs; gone: withdrawn; deaf: failed headphones; quit: 2 trials unanswered at the end."""
    return tidy(hand_table({"ok": ALL, "slow": ALL, "gone": ALL, "deaf": ALL, "quit": ALL},
                           timed_out={"slow": [0, 3]}, unanswered={"quit": [4, 5]},
                           withdrawn=("gone",), failed_headphone=("deaf",)))


def test_primary_excludes_withdrawn_and_failed_headphone(table):
    scored, record = score(table, Rules())
    assert sorted(scored["listener"].unique()) == ["ok", "quit", "slow"]
    assert {r["listener"]: r["reasons"] for r in record["listeners_excluded"]} == {
        "deaf": ["failed headphone check"], "gone": ["withdrawn"]}
    assert record["practice_trials_not_scored"] == 10 and record["unanswered_trials_not_scored"] == 2


def test_timeouts_count_as_errors_in_primary(table):
    scored, record = score(table, Rules())
    slow = scored[scored["listener"] == "slow"]
    assert len(slow) == 6 and slow["correct"].sum() == 4
    assert record["timed_out_trials"] == 2 and record["timed_out_handling"] == "counted as errors"


def test_timeouts_excluded_in_secondary(table):
    scored, record = score(table, Rules(timeouts="exclude"))
    slow = scored[scored["listener"] == "slow"]
    assert len(slow) == 4 and slow["correct"].all() and record["timed_out_handling"] == "excluded"


def test_keep_everyone(table):
    scored, record = score(table, Rules(exclude_failed_headphone=False, exclude_withdrawn=False))
    assert scored["listener"].nunique() == 5 and record["listeners_excluded"] == []
    assert len(scored) == 5 * 6 - 2


def test_practice_never_scored(table):
    scored, _ = score(table, Rules(exclude_failed_headphone=False, exclude_withdrawn=False))
    assert not scored["item"].str.startswith("practice").any()


def test_variants_cover_each_rule_both_ways():
    rules = variants(exclude_failed_headphone=False)
    assert rules["primary"] == Rules(exclude_failed_headphone=False)
    assert rules["timeouts_excluded"].timeouts == "exclude"
    assert rules["no_listener_exclusions"] == Rules(exclude_failed_headphone=False, exclude_withdrawn=False)


def test_items_unique_across_versions(table):
    scored, _ = score(table)
    assert scored.groupby("item_key")["version"].nunique().max() == 1


def test_rules_stated_in_words():
    text = " ".join(Rules(timeouts="exclude").describe())
    assert "practice trials are never scored" in text and "timed-out trials are excluded" in text


@pytest.mark.parametrize("make", [
    lambda: score(tidy(hand_table({"gone": ALL}, withdrawn=("gone",)))),
    lambda: score(tidy(hand_table({"slow": [1, 1]}, timed_out={"slow": [0, 1]})), Rules(timeouts="exclude")),
    lambda: Rules(timeouts="ignore"),
    lambda: score(tidy(hand_table({"new": ALL}, unanswered={"new": list(range(6))}))),
])
def test_nothing_left_or_bad_rule(make):
    with pytest.raises(AnalysisError):
        make()
