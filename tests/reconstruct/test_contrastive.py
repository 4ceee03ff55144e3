"""The contrastive decoder: InfoNCE, subject layer + shared body, low-rank head, seeded early-stopped training."""

import json
import math

import numpy as np
import pytest
import torch

from reconstruct.config import RunConfig
from reconstruct.decoders.registry import decoder_names
from reconstruct.errors import ParameterError
from reconstruct.models.contrastive import ContrastiveConfig, ContrastiveDecoder, info_nce
from reconstruct.run import run_stage
from reconstruct.segment_training import EarlyStopping
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.train_contrastive import (CHECKPOINT, load_contrastive, same_song_rate, target_basis,
                                          train_contrastive)

TINY = dict(width=8, components=3, embed_dim=8, batch_size=8, device="cpu")


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def test_info_nce_is_log_batch_for_unrelated_embeddings_and_zero_for_identical_ones():
    g = torch.Generator().manual_seed(0)
    a, b = _unit(torch.randn(64, 512, generator=g)), _unit(torch.randn(64, 512, generator=g))
    assert abs(float(info_nce(a, b, 1.0)) - math.log(64)) < 0.05
    assert float(info_nce(a, a, 100.0)) < 1e-3


def test_identical_targets_are_not_negatives():
    e = torch.eye(4)
    e[1] = e[0]  # rows 0 and 1: the same song and time (another participant): their mel windows are identical
    same = torch.zeros(4, 4, dtype=torch.bool)
    same[0, 1] = same[1, 0] = True
    assert abs(float(info_nce(e, e, 50.0)) - math.log(2) / 2) < 1e-3  # as negatives the twins are a coin flip
    assert float(info_nce(e, e, 50.0, same)) < 1e-3


def _segments(rng: np.random.Generator, n: int, *, signal: bool = True) -> dict:
    """Two participants; EEG channel 0 (participant 0) or 1 (participant 1) carries the target's loudness."""
    eeg, frames, pid = [], [], []
    for i in range(n):
        loud = rng.uniform(0.2, 0.8, 220).astype(np.float32)
        x = rng.standard_normal((220, 6)).astype(np.float32)
        if signal:
            x[:, i % 2] += 8 * (loud - 0.5)
        eeg.append(x)
        frames.append(np.repeat(loud[:, None], 5, 1) * np.linspace(0.6, 1, 5, dtype=np.float32))
        pid.append(i % 2)
    return {"eeg": eeg, "frames": frames, "pid": pid}


def _train(tmp_path, name: str, **kw) -> dict:
    rng = np.random.default_rng(0)
    config = ContrastiveConfig(**{**TINY, "max_epochs": 3, **kw})
    return train_contrastive(_segments(rng, 24), _segments(rng, 8), n_participants=2, config=config,
                             out_dir=tmp_path / name, extra={"participants": ["p0", "p1"]}, progress=False)


def test_it_trains_and_predicts_frames_in_range(tmp_path):
    summary = _train(tmp_path, "a", max_epochs=10, patience=10, lr=1e-2)
    assert summary["best_val_r"] > 0.2  # the loudness is in the EEG: the time course is decoded
    model, payload = load_contrastive(tmp_path / "a" / CHECKPOINT, device="cpu")
    x = torch.randn(3, 6, 220)
    with torch.no_grad():
        pred = model(x, torch.tensor([0, 1, 0])).clamp(0, 1)
    assert pred.shape == (3, 220, 5) and payload["participants"] == ["p0", "p1"]
    assert float(pred.min()) >= 0 and float(pred.max()) <= 1


def test_seeded_training_reproduces(tmp_path):
    first, again = _train(tmp_path, "a"), _train(tmp_path, "b")
    assert first["history"] == [{**h, "seconds": first["history"][i]["seconds"]} for i, h in enumerate(again["history"])]
    other = _train(tmp_path, "c", seed=1)
    assert other["history"][0]["train_mse"] != first["history"][0]["train_mse"]


def test_the_validation_same_song_rate_is_one_for_perfect_predictions_and_zero_for_swapped_ones():
    y = torch.rand(4, 30, 6, generator=torch.Generator().manual_seed(0))
    mask, pid = torch.ones(4, 30), torch.tensor([0, 0, 1, 1])
    assert same_song_rate(y, y, mask, pid) == 1.0
    assert same_song_rate(y[[1, 0, 3, 2]], y, mask, pid) == 0.0  # each prediction is the other span's truth


@pytest.mark.parametrize("embed_from", ["body", "head", "render"])
def test_every_embedding_trains_with_a_finite_contrastive_loss(tmp_path, embed_from):
    summary = _train(tmp_path, embed_from, max_epochs=2, embed_from=embed_from)
    assert all(0 < h["train_info_nce"] < 10 for h in summary["history"])


def test_early_stopping_stops_when_validation_stops_improving(tmp_path):
    stop = EarlyStopping(2, higher_is_better=True)
    assert stop.improved(0.1, 1) and not stop.improved(0.05, 2) and not stop.should_stop(2)
    assert not stop.improved(0.1, 3) and stop.should_stop(3) and stop.best_epoch == 1
    rng = np.random.default_rng(1)
    config = ContrastiveConfig(**{**TINY, "max_epochs": 40, "patience": 2, "lr": 3e-2})
    summary = train_contrastive(_segments(rng, 16, signal=False), _segments(rng, 8, signal=False), n_participants=2,
                                config=config, out_dir=tmp_path / "s", extra={}, progress=False)
    assert summary["epochs"] < 40 and summary["epochs"] - summary["best_epoch"] == 2
    saved = json.loads((tmp_path / "s" / "training_contrastive.json").read_text())
    assert saved["best_epoch"] == summary["best_epoch"]


def test_subject_layer_is_per_participant_and_the_low_rank_head_stays_in_the_training_span():
    frames = [np.random.default_rng(0).uniform(0, 1, (50, 6)).astype(np.float32)]
    basis, mean, scale = target_basis(frames, [0], 2, 2)
    torch.manual_seed(0)
    model = ContrastiveDecoder(2, 5, basis, mean, scale, ContrastiveConfig(**TINY)).eval()
    x = torch.randn(1, 5, 50)
    assert not torch.allclose(model(x, torch.tensor([0])), model(x, torch.tensor([1])))
    with torch.no_grad():
        model.spatial[1].copy_(model.spatial[0])
    assert torch.allclose(model(x, torch.tensor([0])), model(x, torch.tensor([1])))
    off = (model(x, torch.tensor([0]))[0] - mean[0]).detach()
    assert torch.allclose(off @ basis[0].T @ basis[0], off, atol=1e-5)  # rank 2: nothing outside the two components


@pytest.mark.parametrize("kwargs", [{"kernel": 4}, {"rank": -1}, {"window_s": 0}, {"band_hz": (8.0, 1.0)},
                                    {"contrastive_weight": -1}, {"batch_size": 1}, {"embed_from": "clip"},
                                    {"stop_on": "loss"}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ParameterError):
        ContrastiveConfig(**kwargs)


def test_it_is_registered_and_reads_raw_eeg():
    assert "contrastive" in decoder_names()
    assert RunConfig(decoder="contrastive", input_kind="raw").contrastive == ContrastiveConfig()
    with pytest.raises(ParameterError, match="--input raw"):
        RunConfig(decoder="contrastive", input_kind="psd")


def test_a_run_goes_through_the_pipeline_stages(tmp_path):
    sim = SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=245, snr=0.5, n_channels=8)
    config = RunConfig(run_dir=tmp_path / "run", simulation=sim, decoder="contrastive", input_kind="raw",
                       contrastive=ContrastiveConfig(**{**TINY, "max_epochs": 2}))
    summaries = {s: run_stage(config, s, progress=False, log=lambda _: None)
                 for s in ("load", "features", "split", "train", "predict")}
    assert summaries["train"]["decoder"] == "contrastive" and summaries["train"]["n_val"] > 0
    pred = np.load(tmp_path / "run" / "predictions.npy")
    assert pred.shape[1:] == (44, 128) and pred.min() >= 0 and pred.max() <= 1
    assert summaries["predict"]["n_test_examples"] == len(pred)
