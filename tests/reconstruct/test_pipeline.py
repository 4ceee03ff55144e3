"""End to end on the simulated set: the CLI makes 48 + practice clips and a manifest as the contract says."""

import hashlib
import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from reconstruct.loudness import integrated_loudness
from tuneback.cli import build_cli, main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    args = ["reconstruct", "run", "--run-dir", str(run_dir), "--decoder", "ridge", "--quiet"]
    result = CliRunner().invoke(build_cli(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run_dir, args, result.output


@pytest.fixture(scope="module")
def manifest(run):
    return json.loads((run[0] / "clips" / "manifest.json").read_text())


def test_manifest_follows_the_contract(manifest):
    assert manifest["schema"] == "tuneback.manifest/1"
    assert manifest["dataset"]["simulated"] is True and "simulated" in manifest["dataset"]["name"]
    assert set(manifest["seeds"]) >= {"dataset", "split", "train", "select", "griffin_lim"}
    assert manifest["params"]["decoder"] == "ridge" and "ref_db_used" in manifest["params"]
    roles = [c["role"] for c in manifest["clips"]]
    assert roles.count("reconstruction") == 48 and roles.count("practice_reconstruction") == 8
    by_id = {c["id"]: c for c in manifest["clips"]}
    for clip in manifest["clips"]:
        if clip["role"].endswith("reconstruction"):
            target = by_id[clip["target"]]
            assert target["role"] == clip["role"].replace("reconstruction", "target")
            assert (target["song"], target["onset_s"]) == (clip["song"], clip["onset_s"])
            assert clip["eeg_participant"] and clip["position"] in ("beginning", "middle", "end")
        else:
            assert clip["eeg_participant"] is None and clip["half"] is None


def test_clips_are_indistinguishable_by_format_size_and_loudness(run, manifest):
    clips_dir = run[0] / "clips"
    sizes, levels = set(), []
    for clip in manifest["clips"]:
        path = clips_dir / clip["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == clip["sha256"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (22050, 1, 110250, "PCM_16")
        sizes.add(path.stat().st_size)
        levels.append(integrated_loudness(sf.read(path)[0]))
    assert len(sizes) == 1
    assert np.ptp(levels) < 0.2


def test_observer_scores_the_48_pairs(run, manifest):
    """observer.json's as-heard figure is the ideal observer on exactly the 48 selection pairs' rendered clips."""
    from reconstruct.evaluation.observer import ideal_observer
    from reconstruct.features import clip_log_mel

    observer = json.loads((run[0] / "clips" / "observer.json").read_text())
    selection = json.loads((run[0] / "selection.json").read_text())
    assert len(selection["pairs"]) == 48
    by_id = {c["id"]: c for c in manifest["clips"]}
    ids = [f"{'p' if c['role'] == 'practice_reconstruction' else 'r'}{i + 1:02d}"
           for i, c in enumerate(selection["choices"])]
    mel = {cid: clip_log_mel(run[0] / "clips" / by_id[cid]["file"]) for cid in by_id}
    x = [mel[by_id[ids[m]]["target"]] for m, _ in selection["pairs"]]
    again = ideal_observer(x, [mel[ids[m]] for m, _ in selection["pairs"]], [mel[ids[f]] for _, f in selection["pairs"]],
                           distance="correlation")
    assert observer["rendered_audio"]["correct"] == again["correct"] and observer["rendered_audio"]["n"] == 48
    for key in ("rendered_audio", "predicted_spectra"):
        assert observer[key]["correct"] == round(observer[key]["accuracy"] * 48)


def test_second_run_reuses_every_stage(run):
    result = CliRunner().invoke(build_cli(), run[1], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.count("up to date") == 8
    assert "SIMULATED" in result.output and "ideal observer" in result.output


@pytest.mark.parametrize("args,message", [
    (["reconstruct", "run", "--dataset", "nmedt"], "needs --eeg"),
    (["reconstruct", "run", "--ref-db", "loud"], "--ref-db"),
    (["reconstruct", "train", "--run-dir", "{tmp}"], "needs 'load' first"),
    (["reconstruct", "run", "--snr", "-1"], "snr=-1"),
    (["reconstruct", "run", "--dataset", "folder", "--eeg", "{tmp}/missing"], "missing"),
])
def test_bad_input_is_one_line(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
