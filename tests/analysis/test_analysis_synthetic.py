"""analysis.synthetic: the simulated export has the contract's columns and a sound design."""

from __future__ import annotations

from analysis.load import OPTIONAL, REQUIRED, tidy
from analysis.synthetic import PRACTICE_TRIALS, synthetic_table


def test_contract_columns_and_valid():
    table = synthetic_table(4, seed=1)
    assert set(table.columns) == set(REQUIRED) | set(OPTIONAL)
    assert len(tidy(table)) == 4 * (24 + PRACTICE_TRIALS)


def test_design_balanced_per_listener():
    table = synthetic_table(6, seed=2)
    scored = table[~table["practice"]]
    assert (scored.groupby("listener")["correct_side"].apply(lambda s: (s == "A").sum()) == 12).all()
    assert (scored.groupby("listener")["item"].nunique() == 24).all()
    assert scored.groupby("listener")["trial_index"].apply(sorted).map(lambda t: t == list(range(1, 25))).all()


def test_seeded():
    assert synthetic_table(3, seed=5).equals(synthetic_table(3, seed=5))
    assert not synthetic_table(3, seed=5)["answer"].equals(synthetic_table(3, seed=6)["answer"])
