"""`--decoder auto` chooses on validation chunks only: test-chunk EEG cannot change the choice."""

import json

import numpy as np
import pytest

from reconstruct.decoder_choice import CHOICE_FILE, candidate_config, choose_decoder, resolve_decoder
from reconstruct.config import RunConfig
from reconstruct.models.temporal import TemporalConfig
from reconstruct.pipeline import load_split
from reconstruct.stages import stage_params
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import TEST, VAL

SIM = SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=245, snr=0.5, n_channels=8)
CANDIDATES = ("ridge", "trf", "temporal")


@pytest.fixture(scope="module")
def chosen(tmp_path_factory):
    config = RunConfig(run_dir=tmp_path_factory.mktemp("auto") / "run", simulation=SIM, decoder="auto",
                       temporal=TemporalConfig(max_epochs=2, width=8, components=4))
    return config, choose_decoder(config, candidates=CANDIDATES, progress=False, log=lambda _: None)


def _perturb(config: RunConfig, role: str) -> None:
    """Overwrite the EEG inputs of every example with `role` in each candidate's features (in place)."""
    seen = set()
    for decoder in CANDIDATES:
        sub = candidate_config(config, decoder)
        path = (sub.run_dir / "features" / "inputs.npy").resolve()
        if path in seen:
            continue
        seen.add(path)
        inputs = np.load(path, mmap_mode="r+")
        rows = load_split(sub).indices(role)
        inputs[rows] = np.abs(np.random.default_rng(1).standard_normal(inputs[rows].shape)).astype(inputs.dtype) * 50
        inputs.flush()


def test_the_choice_is_made_on_validation_chunks_with_time_specific_scores(chosen):
    _, choice = chosen
    assert choice["chosen"] in CANDIDATES and choice["test_chunks_used"] is False
    scores = choice["validation"]
    assert len({s["n_val_chunks"] for s in scores.values()}) == 1 and scores[CANDIDATES[0]]["n_val_chunks"] > 0
    best = max(s["same_song"] for s in scores.values())  # the choice is the best same-song score on validation
    assert scores[choice["chosen"]]["same_song"] == best


def test_perturbing_test_chunk_eeg_changes_nothing_but_validation_eeg_does(chosen):
    config, before = chosen
    _perturb(config, TEST)
    after = choose_decoder(config, candidates=CANDIDATES, force=True, progress=False, log=lambda _: None)
    assert after == before
    _perturb(config, VAL)  # the check can fail: validation EEG does move the scores
    moved = choose_decoder(config, candidates=CANDIDATES, force=True, progress=False, log=lambda _: None)
    assert moved["validation"] != before["validation"]


def test_auto_links_the_chosen_model_into_the_main_run(chosen, monkeypatch):
    config, _ = chosen
    main, choice = resolve_decoder(config, candidates=CANDIDATES, progress=False, log=lambda _: None)
    assert main.decoder == choice["chosen"] and main.run_dir == config.run_dir
    assert json.loads((config.run_dir / CHOICE_FILE).read_text())["chosen"] == main.decoder
    assert stage_params(main, "train") == stage_params(candidate_config(config, main.decoder), "train")
    assert (main.run_dir / "model").exists()
