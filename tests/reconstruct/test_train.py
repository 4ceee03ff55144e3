"""Training checkpoints every epoch and resumes exactly where it stopped."""

import json

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.train import TrainConfig, load_cnn, predict_cnn, train_cnn


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((96, 63, 125)).astype(np.float32) + 0.1
    w = rng.standard_normal((63 * 125, 8)).astype(np.float32) / 90
    y = (np.log10(x).reshape(96, -1) @ w).reshape(96, 8, 1) * np.ones((1, 1, 16), dtype=np.float32)
    y = ((y - y.min()) / (y.max() - y.min())).astype(np.float32)
    return x[:72], y[:72], x[72:], y[72:]


def _train(data, tmp_path, epochs, **kw):
    config = TrainConfig(max_epochs=epochs, patience=50, batch_size=16, seed=1, **kw)
    return train_cnn(*data, config=config, out_dir=tmp_path, log_inputs=True, progress=False)


def test_resume_equals_uninterrupted(data, tmp_path):
    straight = _train(data, tmp_path / "a", 3)
    _train(data, tmp_path / "b", 1)
    resumed = _train(data, tmp_path / "b", 3)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    np.testing.assert_allclose([h["val_loss"] for h in resumed["history"]],
                               [h["val_loss"] for h in straight["history"]], rtol=1e-5)


def test_learning_reduces_validation_loss(data, tmp_path):
    summary = _train(data, tmp_path, 6)
    assert summary["best_val_loss"] < summary["history"][0]["val_loss"]
    assert json.loads((tmp_path / "training.json").read_text())["best_epoch"] == summary["best_epoch"]
    model, scaler = load_cnn(tmp_path / "best.pt")
    pred = predict_cnn(model, scaler, data[2])
    assert pred.shape == data[3].shape and pred.min() >= 0 and pred.max() <= 1


def test_resume_refuses_other_settings(data, tmp_path):
    _train(data, tmp_path, 1)
    with pytest.raises(ParameterError, match="other settings"):
        _train(data, tmp_path, 2, lr=0.01)


def test_other_settings_mean_a_fresh_start_for_the_stage(data, tmp_path):
    from reconstruct.train import checkpoint_compatible

    _train(data, tmp_path, 1)
    assert checkpoint_compatible(tmp_path, TrainConfig(max_epochs=9, patience=50, batch_size=16, seed=1))
    assert not checkpoint_compatible(tmp_path, TrainConfig(max_epochs=9, patience=50, batch_size=16, seed=2))
