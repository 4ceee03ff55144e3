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
    assert rules["catch_and_fast_kept"] == Rules(exclude_failed_headphone=False, exclude_failed_catch=False,
                                                 exclude_too_fast=False)
    assert rules["no_listener_exclusions"] == Rules(exclude_failed_headphone=False, exclude_withdrawn=False,
                                                    exclude_failed_catch=False, exclude_too_fast=False,
                                                    exclude_unheard=False)
    assert rules["unheard_kept"] == Rules(exclude_failed_headphone=False, exclude_unheard=False)


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


def with_catch(table, results: dict[str, list[int]]):
    """Append catch trials after each listener's scored ones: results[L][k] == 1 is a right answer."""
    import pandas as pd

    rows = []
    for listener, outcomes in results.items():
        mine = table[(table["listener"] == listener) & ~table["practice"]]
        last = mine.iloc[-1].to_dict()
        for k, ok in enumerate(outcomes):
            row = dict(last, trial_index=int(mine["trial_index"].max()) + k + 1, catch=True, correct=bool(ok),
                       correct_side="A", answer="A" if ok else "B")
            rows.append(row)
    out = pd.concat([table.assign(catch=False), pd.DataFrame(rows)], ignore_index=True)
    return tidy(out)


@pytest.fixture
def catch_table():
    """good: both catch trials right; sloppy: misses one; lost: misses both (scored trials all right)."""
    base = hand_table({"good": ALL, "sloppy": ALL, "lost": ALL})
    return with_catch(base, {"good": [1, 1], "sloppy": [1, 0], "lost": [0, 0]})


def test_catch_trials_never_scored_and_reported_per_listener(catch_table):
    scored, record = score(catch_table, Rules(exclude_failed_catch=False))
    assert len(scored) == 3 * 6 and record["catch_trials_not_scored"] == 6
    assert {c["listener"]: (c["catch_trials"], c["correct"], c["missed"]) for c in record["catch_by_listener"]} == {
        "good": (2, 2, 0), "sloppy": (2, 1, 1), "lost": (2, 0, 2)}
    assert record["listeners_excluded"] == []


@pytest.mark.parametrize(("misses", "excluded"), [(0, ["lost", "sloppy"]), (1, ["lost"]), (2, [])])
def test_catch_threshold_excludes_listeners(catch_table, misses, excluded):
    scored, record = score(catch_table, Rules(max_catch_misses=misses))
    assert sorted(r["listener"] for r in record["listeners_excluded"]) == excluded
    assert all(r["reasons"] == ["failed catch trials"] for r in record["listeners_excluded"])
    assert set(scored["listener"]) == {"good", "sloppy", "lost"} - set(excluded)


def test_too_fast_floor_and_table_flags():
    table = hand_table({"a": ALL, "b": ALL}, rt_ms=400.0)  # rt = 400 + 100 k: trials k = 0…5 → 400…900 ms
    table["too_fast"] = table["rt_ms"] < 600  # the study's own flags: k = 0, 1
    table = tidy(table)
    _, by_flags = score(table, Rules())
    assert by_flags["too_fast_trials"] == 4 and by_flags["too_fast_by_listener"] == {"a": 2, "b": 2}
    scored, by_floor = score(table, Rules(too_fast_ms=800))
    assert by_floor["too_fast_trials"] == 8 and len(scored) == 2 * 2
    kept, record = score(table, Rules(too_fast_ms=800, exclude_too_fast=False))
    assert len(kept) == 12 and record["too_fast_handling"] == "kept" and record["too_fast_trials"] == 8


def test_old_exports_without_flags_have_no_catch_or_fast(table):
    _, record = score(table, Rules())
    assert record["catch_trials_not_scored"] == 0 and record["too_fast_trials"] == 0


@pytest.mark.parametrize("bad", [{"max_catch_misses": -1}, {"max_catch_misses": 1.5}, {"too_fast_ms": -5},
                                 {"max_catch_misses": True}])
def test_bad_check_thresholds(bad):
    with pytest.raises(AnalysisError):
        Rules(**bad)


def test_trials_the_playback_log_flags_are_excluded_and_counted():
    """Issue 29: a trial where a clip never sounded or was cut short is dropped by the stated rule."""
    from analysis.load import tidy
    from analysis.synthetic import synthetic_table

    table = tidy(synthetic_table(2, seed=3))
    scored_rows = table.index[~table["practice"]]
    table.loc[scored_rows[:3], "playback"] = ["cut_short", "never_sounded", "not_logged"]
    before, _ = score(table, Rules(exclude_unheard=False))
    after, record = score(table, Rules())
    assert len(before) - len(after) == 2
    assert record["unheard_trials"] == {"cut_short": 1, "never_sounded": 1}
    assert any("never sounded or was cut short" in r for r in record["rules_text"])
