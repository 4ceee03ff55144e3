"""Stage 7 on a small simulated run (3 songs × 2 participants, ridge decoder): the main result is above
chance, the null controls (noise only, chunks shuffled) are at chance, the sweep reproduces the pipeline's
simulation, the observer scores given trials, and `tuneback reconstruct evaluate` writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reconstruct.config import RunConfig
from reconstruct.errors import ParameterError, ReconstructError
from reconstruct.evaluation.classifier import ClassifierConfig
from reconstruct.evaluation.controls import (
    chunk_permutation,
    chunk_shuffled_config,
    derange_songs,
    noise_only_config,
)
from reconstruct.evaluation.evaluate import score_run
from reconstruct.evaluation.figures import sweep_plot
from reconstruct.evaluation.observer import (STUDY_TRIALS, file_trials, ideal_observer_report, score_trials,
                                             selection_trials)
from reconstruct.evaluation.runs import (
    derived_config,
    ensure_predictions,
    share_upstream,
)
from reconstruct.evaluation.sweep import (
    SweepConfig,
    run_sweep,
    simulate_components,
    training_subset,
)
from reconstruct.pipeline import load_split, recordings_table
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import CHUNK_S, TEST, TRAIN, USED_S

FAST = ClassifierConfig(epochs=4)
SIM = SimulatedDataConfig(shape="nmedt", n_songs=3, n_participants=2, duration_s=245, snr=0.5)  # all hear all songs


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunConfig:
    """The small run, through predictions (ridge: seconds, not minutes)."""
    config = RunConfig(run_dir=tmp_path_factory.mktemp("eval") / "run", simulation=SIM, decoder="ridge")
    return ensure_predictions(config)


@pytest.fixture(scope="module")
def cache(run) -> Path:
    return Path(run.run_dir) / "evaluation" / "classifiers"


def test_main_reconstructions_are_recognised_above_chance(run, cache):
    scored, arrays, ex = score_run(run, classifier=FAST, cache_dir=cache)
    assert scored["song_id"]["per_example"]["above_chance"]
    assert scored["song_id"]["per_example"]["chance"] == pytest.approx(1 / 3)
    assert arrays["bin_ssim"].shape == (len(ex.test_recon), 128)
    assert len(scored["per_bin_mean"]["ssim"]) == 128
    assert 0 < scored["ssim"]["mean"] < 1


def test_noise_only_control_is_at_chance(run, cache):
    noise = ensure_predictions(noise_only_config(run))
    assert noise.simulation.snr == 0 and np.array_equal(load_split(noise).chunk_roles, load_split(run).chunk_roles)
    scored, _, _ = score_run(noise, classifier=FAST, cache_dir=cache, per_bin=False)
    assert scored["song_id"]["per_example"]["at_chance"], scored["song_id"]["per_example"]
    assert scored["song_id"]["per_chunk"]["at_chance"]


def test_chunk_shuffled_control_is_at_chance_on_the_same_data(run, cache):
    shuffled = ensure_predictions(chunk_shuffled_config(run, seed=0))
    assert (Path(shuffled.run_dir) / "data").resolve() == (Path(run.run_dir) / "data").resolve()
    scored, _, _ = score_run(shuffled, classifier=FAST, cache_dir=cache, per_bin=False)
    assert scored["song_id"]["per_example"]["at_chance"], scored["song_id"]["per_example"]
    inputs = np.load(Path(shuffled.run_dir) / "features" / "inputs.npy", mmap_mode="r")
    original = np.load(Path(run.run_dir) / "features" / "inputs.npy", mmap_mode="r")
    assert inputs.shape == original.shape and not np.array_equal(inputs[:USED_S], original[:USED_S])
    # the same rows, only rearranged
    assert np.isclose(np.asarray(inputs).sum(dtype=np.float64), np.asarray(original).sum(dtype=np.float64))


def test_derangement_keeps_every_song_once_per_participant_and_none_in_place():
    table = [(f"p{p}", f"s{s}") for p in range(4) for s in range(5)]
    new = derange_songs(table, seed=3)
    assert all(n != s for (_, s), n in zip(table, new))
    for p in range(4):
        assert sorted(new[p * 5:(p + 1) * 5]) == [f"s{s}" for s in range(5)]
    single = derange_songs([("p1", "a"), ("p2", "b"), ("p3", "c")], seed=0)  # one song per participant
    assert sorted(single) == ["a", "b", "c"] and all(n != s for n, s in zip(single, "abc"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_demo_s_design_is_deranged_too(seed):
    """48 recordings, 4 songs × 12, one song per participant: random permutations almost never derange it."""
    table = [(f"p{p}", f"s{p % 4}") for p in range(48)]
    new = derange_songs(table, seed=seed)
    assert all(n != s for (_, s), n in zip(table, new)) and sorted(new) == sorted(s for _, s in table)


def test_a_song_on_more_than_half_the_recordings_cannot_be_deranged():
    with pytest.raises(ReconstructError, match="more than half"):
        derange_songs([("p1", "a"), ("p2", "a"), ("p3", "b")], seed=0)


def test_chunk_permutation_permutes_within_participant_and_role():
    table = [(f"p{p}", f"s{s}") for p in range(2) for s in range(3)]
    roles = np.array([["train", "test", "val", "train"] * 12] * 6)
    roles[[0, 3], 0] = "test"
    source = chunk_permutation(table, roles, seed=0)
    used = {tuple(x) for x in source.reshape(-1, 2)}
    assert len(used) == 6 * 48  # every source chunk used exactly once
    for r in range(6):
        for k in range(48):
            src_r, src_k = source[r, k]
            assert table[src_r][0] == table[r][0] and roles[src_r, src_k] == roles[r, k]
    assert (source[..., 1] != np.arange(48)).any()


def test_sub_runs_share_data_and_split_with_the_main_run(run):
    ridge2 = derived_config(run, "ridge-alpha", ridge_alpha=20.0)
    assert share_upstream(run, ridge2) == ["load", "features", "split"]
    other = derived_config(run, "raw", input_kind="raw")
    assert share_upstream(run, other) == ["load"]


def test_sweep_reproduces_the_pipeline_simulation_and_orders_snrs(run, tmp_path):
    one = SimulatedDataConfig(shape="nmedt", n_songs=3, n_participants=1, duration_s=245, snr=0.5)  # = the run's first participant
    comps = simulate_components(one, progress=False)
    eeg = np.load(Path(run.run_dir) / "data" / "eeg.npy", mmap_mode="r")
    assert comps.table == recordings_table(run)[:3]
    for i in range(3):
        assert np.allclose(comps.eeg(i, SIM.snr), eeg[i], atol=1e-5)
    config = SweepConfig(simulation=one, snrs=(0.0, 0.5), minutes=(None,), classifier=FAST)
    sweep = run_sweep(config, out_dir=tmp_path, progress=False, components=comps)
    noise, signal = sweep["points"]
    assert noise["per_example"]["at_chance"] and signal["per_example"]["above_chance"]
    assert sweep["chance"] == pytest.approx(1 / 3)
    again = run_sweep(config, out_dir=tmp_path, progress=False)  # from sweep_points.json, no simulation
    assert again["points"] == sweep["points"]
    assert sweep_plot(sweep, default_snr=0.4).startswith(b"\x89PNG")


def test_training_minutes_keep_whole_chunks_spread_over_each_recording(run):
    split = load_split(run)
    train = split.indices(TRAIN)
    one = training_subset(train, 1.0)
    chunks = np.unique(one // CHUNK_S)
    assert len(chunks) == 12 * len(recordings_table(run))  # 1 min = 12 five-second chunks per recording
    assert np.isin(one, train).all() and len(one) == len(chunks) * CHUNK_S
    assert training_subset(train, None) is train


def _test_chunks(run: RunConfig, recording: int) -> list[int]:
    return [int(c) for c in np.flatnonzero(load_split(run).chunk_roles[recording] == TEST)]


def test_observer_scores_hand_made_trials_by_distance_and_ssim(run):
    table = recordings_table(run)
    trials = []
    for r, (_, song) in enumerate(table):
        foil = next(i for i, (_, s) in enumerate(table) if s != song)
        for chunk in _test_chunks(run, r)[:3]:
            trials.append({"version": 1 + r % 2, "x": (song, chunk), "match": (r, chunk),
                           "foil": (foil, _test_chunks(run, foil)[0])})
    out = score_trials(run, trials)
    assert out["n_trials"] == len(trials)
    for measure in ("distance", "ssim"):
        assert out[measure]["accuracy"] > 0.5 and set(out[measure]["per_version"]) == {"1", "2"}
    with pytest.raises(ReconstructError, match="selection.json"):
        selection_trials(run)


def test_observer_reads_a_design_file_through_the_manifest(run, tmp_path):
    table = recordings_table(run)
    (p0, s0), (p1, s1) = table[0], table[1]
    c0, c1 = _test_chunks(run, 0)[0], _test_chunks(run, 1)[0]
    clips = [{"id": "r01", "song": s0, "eeg_participant": p0, "onset_s": c0 * CHUNK_S, "role": "reconstruction"},
             {"id": "r02", "song": s1, "eeg_participant": p1, "onset_s": c1 * CHUNK_S, "role": "reconstruction"},
             {"id": "x01", "song": s0, "eeg_participant": None, "onset_s": c0 * CHUNK_S, "role": "target"}]
    manifest = Path(run.run_dir) / "clips" / "manifest.json"
    manifest.parent.mkdir(exist_ok=True)
    manifest.write_text(json.dumps({"clips": clips}))
    design = {"versions": [{"number": 1, "practice": [{"target": "x01", "match": "r01", "foil": "r02",
                                                      "practice": True}],
                            "trials": [{"target": "x01", "match": "r01", "foil": "r02"}]}]}
    path = tmp_path / "design.json"
    path.write_text(json.dumps(design))
    try:
        trials = file_trials(run, path)
        assert trials == [{"version": 1, "song": s0, "foil_song": s1, "x": (s0, c0), "match": (0, c0),
                           "foil": (1, c1)}]
        path.write_text(json.dumps([["x01", "r01", "r02"]]))  # trial_template rows: (target, match, foil)
        assert file_trials(run, path)[0]["match"] == (0, c0)
        path.write_text(json.dumps([{"match": "r01", "foil": "r99"}]))
        with pytest.raises(ReconstructError, match="r99"):
            file_trials(run, path)
        study_file = Path(run.run_dir) / STUDY_TRIALS  # what the demo writes: used without --trials
        study_file.write_text(json.dumps(design))
        report = ideal_observer_report(run)
        assert report["source"] == str(study_file) and report["n_trials"] == 1
        study_file.unlink()
        with pytest.raises(ReconstructError, match="selection.json"):  # falls back to the selection pairs
            ideal_observer_report(run)
    finally:
        manifest.unlink()


def _small_build_config(original):
    def build(**options):
        return original(**options).with_(simulation=SIM)
    return build


def test_cli_evaluate_writes_json_and_html(run, monkeypatch):
    import reconstruct.options as run_opts
    from reconstruct.cli_evaluate import evaluate_command

    monkeypatch.setattr(run_opts, "build_config", _small_build_config(run_opts.build_config))
    args = ["--run-dir", str(run.run_dir), "--decoder", "ridge", "--snr", "0.5", "--no-baseline",
            "--clf-epochs", str(FAST.epochs), "--quiet"]
    result = CliRunner().invoke(evaluate_command, args)
    assert result.exit_code == 0, result.output
    assert "song ID" in result.output and "chance 33.3%" in result.output
    out = Path(run.run_dir) / "evaluation"
    data = json.loads((out / "evaluation.json").read_text())
    assert data["main"]["song_id"]["per_example"]["above_chance"]
    assert "skipped" in data["observer"]  # 2 participants are too few for the 48-clip selection
    page = (out / "evaluation.html").read_text()
    assert "SIMULATED" in page and page.count("data:image/png;base64") >= 5
    field = data["main"]["field"]  # the field's metrics, decoder beside the song-mean baseline
    assert field["decoder"]["match_mismatch"]["5way"]["chance"] == 0.2
    assert field["song_mean_baseline"]["band_r"]["p_mean_r"] == 1.0  # identical chunks: never beats its null
    assert "The field&#x27;s metrics" in page or "The field's metrics" in page


def test_cli_is_registered_and_refuses_bad_sweep_values(run):
    from reconstruct.cli import cli
    from reconstruct.cli_evaluate import evaluate_command

    assert cli.commands["evaluate"] is evaluate_command
    result = CliRunner().invoke(evaluate_command, ["--run-dir", str(run.run_dir), "--sweep", "--sweep-snrs", "a,b"])
    assert isinstance(result.exception, ParameterError) and "--sweep-snrs" in str(result.exception)


@pytest.mark.parametrize("kwargs", [{"snrs": ()}, {"snrs": (-1.0,)}, {"minutes": (0.0,)}, {"decoder": "svm"}])
def test_sweep_config_refuses_bad_settings(kwargs):
    with pytest.raises(ParameterError):
        SweepConfig(simulation=SIM, **kwargs)
