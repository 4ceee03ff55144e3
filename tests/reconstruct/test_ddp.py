"""Two gloo processes on CPU train as one process does on the same global batches, and share its checkpoints."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import soundfile as sf
import torch.multiprocessing as mp
from click.testing import CliRunner
from torch import nn

from reconstruct.distributed import BatchPlace, World, barrier, data_parallel, global_batch_loss, joined, shard
from reconstruct.errors import ParameterError, ReconstructError
from reconstruct.models.cnn import EEG2MelCNN, preset
from reconstruct.train import TrainConfig, load_cnn, predict_cnn, train_cnn
from tuneback.cli import build_cli

EPOCHS = 3
GRAD_BATCH = 13  # odd: the two shares differ in size (7 and 6), so the loss weighting matters


def _data():
    """61 training and 19 validation examples (batches of 16 end in one of 13; shares 8+8, ..., 7+6)."""
    rng = np.random.default_rng(0)
    x = rng.random((80, 16, 20)).astype(np.float32) + 0.1
    w = rng.standard_normal((16 * 20, 6)).astype(np.float32) / 20
    y = (np.log10(x).reshape(80, -1) @ w).reshape(80, 6, 1) * np.ones((1, 1, 4), dtype=np.float32)
    y = ((y - y.min()) / (y.max() - y.min())).astype(np.float32)
    return x[:61], y[:61], x[61:], y[61:]


def _train(out_dir: Path, epochs: int, world: World | None = None, threads: int = 0) -> dict:
    config = TrainConfig(max_epochs=epochs, patience=50, batch_size=16, seed=1, threads=threads)
    return train_cnn(*_data(), config=config, out_dir=out_dir, log_inputs=True, progress=False, world=world)


def _fresh_model() -> nn.Module:
    torch.manual_seed(5)
    x, y = _data()[:2]
    return EEG2MelCNN(x.shape[1:], y.shape[1:], preset("small"))


def _gradients(world: World) -> dict[str, torch.Tensor]:
    """Gradients of one global batch's loss (train mode: dropout and batch norm at work) on a fresh model."""
    model = _fresh_model()
    x, y = (torch.from_numpy(a) for a in _data()[:2])
    batch = torch.arange(GRAD_BATCH)
    if world.distributed:
        net, place = data_parallel(model, world, torch.device("cpu"))
        global_batch_loss(net, place, x, y, batch, world)[0].backward()
    else:
        model.train()
        nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def _worker(rank: int, size: int, port: int, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    root, world = Path(root), World(rank, size, rank)
    with joined(world, torch.device("cpu")):
        grads = _gradients(world)
        if world.main:
            torch.save(grads, root / "ddp_grads.pt")
        _train(root / "ddp", EPOCHS, world, threads=1)
        _train(root / "ddp_resumed", 1, world, threads=1)  # interrupted after one epoch ...
        if world.main:
            shutil.copytree(root / "ddp_resumed", root / "ddp_one_epoch")
        barrier(world)
        _train(root / "ddp_resumed", EPOCHS, world, threads=1)  # ... and resumed by two processes
        _train(root / "from_one", EPOCHS, world, threads=1)  # a one-process checkpoint resumed by two


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    _train(root / "from_one", 1)
    mp.spawn(_worker, args=(2, _free_port(), str(root)), nprocs=2)
    _train(root / "one", EPOCHS)
    _train(root / "ddp_one_epoch", EPOCHS)  # a two-process checkpoint resumed by one
    return root


def _history(run: Path) -> dict:
    return json.loads((run / "training.json").read_text())


def _assert_same_curve(run: Path, reference: Path) -> None:
    got, want = _history(run)["history"], _history(reference)["history"]
    assert [h["epoch"] for h in got] == [h["epoch"] for h in want] == list(range(1, EPOCHS + 1))
    # The training loss (batch statistics) agrees to ~1e-7. The validation loss runs on the running statistics,
    # which carry the conv biases ahead of each batch norm: their gradients are float noise that Adam scales to
    # full steps, so even one process on 1 vs 2 threads differs there by ~2e-4 (measured); hence 1e-3.
    np.testing.assert_allclose([h["train_loss"] for h in got], [h["train_loss"] for h in want], rtol=1e-4)
    np.testing.assert_allclose([h["val_loss"] for h in got], [h["val_loss"] for h in want], rtol=1e-3)


def test_two_processes_follow_the_one_process_curve(root):
    _assert_same_curve(root / "ddp", root / "one")
    losses = [h["train_loss"] for h in _history(root / "one")["history"]]
    assert losses[-1] < losses[0]  # it learned, so the curves are not trivially flat
    assert _history(root / "ddp")["world_size"] == 2 and "world_size" not in _history(root / "one")


def test_two_processes_compute_the_global_batch_gradient(root):
    ddp, one = torch.load(root / "ddp_grads.pt"), _gradients(World())
    assert ddp.keys() == one.keys()
    # to 1e-4 of the largest gradient: the conv biases ahead of batch norm get float noise (~1e-6) from both
    scale = max(g.abs().max().item() for g in one.values())
    for name in one:
        torch.testing.assert_close(ddp[name], one[name], rtol=0, atol=1e-4 * scale, msg=name)


def test_checkpoints_have_one_layout_and_load_in_one_process(root):
    for name in ("checkpoint.pt", "best.pt"):
        ddp, one = (torch.load(root / run / name, weights_only=False) for run in ("ddp", "one"))
        assert ddp.keys() == one.keys()
        key = "model" if name == "checkpoint.pt" else "model_state"
        assert {k: v.shape for k, v in ddp[key].items()} == {k: v.shape for k, v in one[key].items()}
    x_val = _data()[2]
    preds = [predict_cnn(*load_cnn(root / run / "best.pt", device="cpu"), x_val) for run in ("ddp", "one")]
    np.testing.assert_allclose(preds[0], preds[1], atol=2e-3)


def test_resume_under_two_processes_continues_the_curve(root):
    _assert_same_curve(root / "ddp_resumed", root / "ddp")
    _assert_same_curve(root / "ddp_resumed", root / "one")


@pytest.mark.parametrize("run", ["from_one", "ddp_one_epoch"])
def test_checkpoints_resume_across_world_sizes(root, run):
    _assert_same_curve(root / run, root / "one")


@pytest.mark.parametrize("size,batch", [(2, 16), (2, 13), (3, 7), (4, 3)])
def test_shards_split_each_batch_once(size, batch):
    order = torch.randperm(batch)
    parts = []
    for rank in range(size):
        place = BatchPlace()
        parts.append(shard(order, World(rank, size, rank), place))
        assert place.total == batch and torch.equal(order[place.start:place.start + len(parts[-1])], parts[-1])
    assert torch.equal(torch.cat(parts), order) and max(map(len, parts)) - min(map(len, parts)) <= 1


def test_world_comes_from_torchrun_variables():
    assert World.from_env({}) == World()
    assert World.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(3, 4, 1)


@pytest.mark.parametrize("env", [{"RANK": "2", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "0"}, {"RANK": "x"}])
def test_bad_torchrun_variables_are_refused(env):
    with pytest.raises(ParameterError):
        World.from_env(env)


@pytest.mark.parametrize("stage,decoder", [("predict", "cnn"), ("features", "cnn"), ("train", "ridge")])
def test_only_cnn_training_runs_under_torchrun(tmp_path, stage, decoder):
    from reconstruct.config import RunConfig
    from reconstruct.run import run_stage

    with pytest.raises(ReconstructError, match="under torchrun"):
        run_stage(RunConfig(run_dir=tmp_path, decoder=decoder), stage, world=World(0, 2, 0))


def _tiny_folder(folder: Path) -> Path:
    """A bring-your-own folder: two 8-channel recordings of one 245-s song (the pipeline uses 240 s)."""
    (folder / "eeg").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for p in ("p1", "p2"):
        np.save(folder / f"eeg/{p}.npy", rng.standard_normal((8, 245 * 125)).astype(np.float32))
    t = np.arange(245 * 22050) / 22050
    sf.write(folder / "s1.wav", (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t))).astype(np.float32), 22050)
    (folder / "recordings.csv").write_text("eeg_file,participant,song,audio_file,fs\n"
                                           "eeg/p1.npy,p1,s1,s1.wav,125\neeg/p2.npy,p2,s1,s1.wav,125\n")
    return folder


def test_cli_trains_under_torchrun_and_one_process_predicts(tmp_path):
    run_dir = tmp_path / "run"
    args = ["--dataset", "folder", "--eeg", str(_tiny_folder(tmp_path / "lab")), "--run-dir", str(run_dir), "--quiet",
            "--epochs", "2", "--device", "cpu"]
    for stage in ("load", "features", "split"):
        assert CliRunner().invoke(build_cli(), ["reconstruct", stage, *args], catch_exceptions=False).exit_code == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run([*torchrun, "-m", "tuneback.cli", "reconstruct", "train", *args], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count('"world_size": 2') == 1  # one summary: rank 0's
    assert json.loads((run_dir / "stages" / "train.done.json").read_text())["summary"]["epochs"] == 2
    predicted = CliRunner().invoke(build_cli(), ["reconstruct", "predict", *args], catch_exceptions=False)
    assert predicted.exit_code == 0
    assert np.isfinite(json.loads(predicted.output[predicted.output.index("{"):])["test_mse"])


def test_run_verb_refuses_torchrun(tmp_path):
    result = CliRunner().invoke(build_cli(), ["reconstruct", "run", "--run-dir", str(tmp_path)],
                                env={"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert isinstance(result.exception, ReconstructError) and "one process" in str(result.exception)
