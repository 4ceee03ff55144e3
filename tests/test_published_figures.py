"""Behaviour unchanged: deterministic figures of today's code reproduce exactly after a refactor (issue 27).

Ridge and trf on a tiny SIMULATED run (predictions hashed bit for bit, losses to every digit), the study
selection and observer pairs on a synthetic 48-recording design, and the analysis of the 16 paper-shaped
listeners. The recorded values live in `published_figures.json`; regenerate them only on purpose, for a change
that is meant to alter results: `TUNEBACK_RECORD_FIGURES=1 python -m pytest tests/test_published_figures.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

RECORDED = Path(__file__).with_name("published_figures.json")
STAGES = ("load", "features", "split", "train", "predict")


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _decoder_figures(run_dir: Path, decoder: str) -> dict:
    """Train one decoder on a tiny simulated run and return its exact outputs."""
    from reconstruct.config import RunConfig
    from reconstruct.run import run_stage
    from reconstruct.simulate import SimulatedDataConfig

    sim = SimulatedDataConfig(n_songs=4, n_participants=1, duration_s=245, snr=0.4, n_channels=8, presentations="a")
    config = RunConfig(run_dir=run_dir, simulation=sim, decoder=decoder,
                       input_kind="raw" if decoder == "trf" else "psd")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # BLAS sums in another order on more threads: recorded on one
        summaries = {s: run_stage(config, s, progress=False, log=lambda _: None) for s in STAGES}
    pred = np.load(run_dir / "predictions.npy")
    return {"predictions_sha256": _sha(pred), "predictions_shape": list(pred.shape),
            "test_mse": repr(summaries["predict"]["test_mse"]), "val_loss": repr(summaries["train"]["val_loss"]),
            "split_chunks": summaries["split"]["chunks"], "inputs_sha256": _sha(np.load(run_dir / "features" /
                                                                                      "inputs.npy"))}


def _selection_figures() -> dict:
    """The 48 study chunks, practice and observer pairs drawn on a synthetic NMED-H-shaped design."""
    from reconstruct.select import default_pairs, select_clips
    from reconstruct.split import make_split

    table = [(f"p{s}{k:02d}", f"song{s}") for s in range(1, 5) for k in range(12)]
    split = make_split([song for _, song in table], seed=0, scope="song", guard_s=0)
    choices = select_clips(table, split, seed=0)
    pairs = default_pairs(choices, seed=0)
    text = json.dumps({"choices": [c.to_dict() for c in choices], "pairs": pairs}, sort_keys=True)
    return {"selection_sha256": hashlib.sha256(text.encode()).hexdigest(), "n_choices": len(choices),
            "n_pairs": len(pairs)}


def _analysis_figures(out_dir: Path) -> dict:
    """The paper-shaped listeners' headline figures, analysed end to end."""
    sys.path.insert(0, str(Path(__file__).parent / "analysis"))
    from analysis_helpers import PAPER_LIKE, counts_table

    from analysis.report import analyze

    table = counts_table({f"L{i:02d}": (k, 24) for i, k in enumerate(PAPER_LIKE)})
    results = analyze(table, out_dir=out_dir, power_reps=20)
    keep = {k: results[k] for k in ("primary", "power")}
    text = json.dumps(keep, sort_keys=True, default=repr)
    group = results["primary"]["group"]
    return {"primary_and_power_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "group": json.loads(json.dumps(group, sort_keys=True, default=repr))}


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("figures")
    return {"ridge": _decoder_figures(root / "run", "ridge"), "trf": _decoder_figures(root / "run", "trf"),
            "selection": _selection_figures(), "analysis": _analysis_figures(root / "analysis")}


def test_published_figures_reproduce_exactly(figures):
    if os.environ.get("TUNEBACK_RECORD_FIGURES"):
        RECORDED.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(RECORDED.read_text())
    for part in recorded:
        assert figures[part] == recorded[part], f"{part} changed"
