"""The tidy trial table matches docs/contracts.md §2 and the database, without importing Flask."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from experiment.db import make_engine
from experiment.errors import ExperimentError
from experiment.models import ParticipantSession
from experiment.tidy import COLUMNS, trial_table
from tuneback.errors import TunebackError

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def contract_columns() -> list[str]:
    """Column names from the contract's §2 table (the `a, b` row names two columns)."""
    section = CONTRACT.read_text().split("## 2.")[1]
    names = []
    for cell in re.findall(r"^\| ([a-z_, ]+) \|", section, flags=re.M):
        if cell.strip() != "column":
            names += [n.strip() for n in cell.split(",")]
    return names


def test_columns_are_the_contracts():
    assert list(COLUMNS) == contract_columns()


def test_table_after_a_session(participant, study, clock):
    p = participant()
    p.ready("PROLIFIC_PID=pidT")
    p.do_trial("A")  # p1
    p.present()  # p2 times out
    clock.advance(65)
    for _ in range(2):  # p3, p4
        p.do_trial("B")
    p.present()
    clock.advance(3)
    p.answer("A", "t1")
    second = participant()
    second.ready()
    engine = make_engine(study.url)
    try:
        table = trial_table(engine, study.experiment_id)
        with engine.begin() as conn:
            conn.execute(sa.update(ParticipantSession).where(ParticipantSession.prolific_pid == "pidT")
                         .values(withdrawn=True))
        withdrawn = trial_table(engine, study.experiment_id)
    finally:
        engine.dispose()
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 5  # only trials shown; the second participant has seen none
    assert table["practice"].tolist() == [True] * 4 + [False]
    assert table["trial_index"].tolist() == [1, 2, 3, 4, 1]
    assert table["answer"].tolist() == ["A", None, "B", "B", "A"]
    assert table["timed_out"].tolist() == [False, True, False, False, False]
    assert (table["correct"] == (table["answer"] == table["correct_side"])).all()
    assert table.loc[1, "correct"] == False  # noqa: E712 - a time-out counts false
    assert pd.isna(table.loc[1, "rt_ms"]) and table.loc[4, "rt_ms"] == 3000.0
    assert table["n_plays"].tolist() == [3, 0, 3, 3, 3]  # t1 too: answers need X, A and B played (issue 29)
    assert set(table["session_status"]) == {"active"} and set(withdrawn["session_status"]) == {"withdrawn"}
    assert withdrawn["withdrawn"].all() and not table["withdrawn"].any()
    assert table["headphone_passed"].all() and set(table["prolific_pid"]) == {"pidT"}
    assert table["foil_song"].notna().all() and (table["match_clip"] != table["foil_clip"]).all()  # mixed default: both kinds
    assert (table["eeg_participant"] != table["foil_eeg_participant"]).all()
    assert table["version"].isin([1, 2]).all() and table["listener"].nunique() == 1
    assert str(table["presented_utc"].dtype) == "datetime64[us, UTC]"
    assert table["item"].str.match(r"^v[12]-(p\d|\d\d)$").all()


def test_unknown_experiment(study):
    engine = make_engine(study.url)
    try:
        with pytest.raises(ExperimentError, match="no experiment with id 99"):
            trial_table(engine, 99)
        assert issubclass(ExperimentError, TunebackError)
        empty = trial_table(engine, study.experiment_id)
        assert list(empty.columns) == list(COLUMNS) and empty.empty
    finally:
        engine.dispose()


def test_models_and_tidy_import_without_flask():
    code = "import sys, experiment.models, experiment.tidy, experiment.db; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
