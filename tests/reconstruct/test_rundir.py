"""The run directory has one owner (issue 27): only reconstruct/rundir.py builds paths into a run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "reconstruct" / "rundir.py"
ARTEFACTS = {"targets.npy", "inputs.npy", "eeg.npy", "predictions.npy", "predictions_index.npy", "split.npy",
             "selection.json", "manifest.json", "observer.json", "dataset.json", "study_trials.json",
             "decoder_choice.json", "rearrangement.json", "shuffle.json"}
BUILDS_A_PATH = re.compile(r"run_dir\)?\s*/|run_dir\)?\.joinpath|\.done\.json\"")


def _sources() -> list[Path]:
    return [p for folder in ("reconstruct", "tuneback") for p in (ROOT / folder).rglob("*.py") if p != OWNER]


def test_no_module_but_rundir_builds_a_path_into_a_run():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in _sources()
                 for i, line in enumerate(p.read_text().splitlines(), 1) if BUILDS_A_PATH.search(line)]
    assert offenders == []


def test_no_module_but_rundir_names_a_run_artefact():
    offenders = [f"{p.relative_to(ROOT)}:{node.lineno} {node.value!r}" for p in _sources()
                 for node in ast.walk(ast.parse(p.read_text()))
                 if isinstance(node, ast.Constant) and node.value in ARTEFACTS]
    assert offenders == []
