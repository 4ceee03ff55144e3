"""The stimulus-leak guard, and the leak itself: EEG with no response to the music at all, recorded beside an
aux channel carrying the song's envelope (lab_recordings.py), cannot give a time-specific figure above chance.
Labelled "Audio", the channel is dropped by its label and the decoder scores at chance; plugged into an EEG
input (labelled "T7") the guard refuses it, naming it and its figure; let through by the explicit flag, the
same pipeline scores far above chance, so the chance-level result is one that could have failed."""

from __future__ import annotations

import pytest
from lab_recordings import EEG, continuous_raw, make_song, write_brainvision, write_csv, write_songs

from reconstruct.config import RunConfig
from reconstruct.datasets.leak_guard import THRESHOLD, check_leak, leak_scores, song_envelope
from reconstruct.errors import DataFormatError
from reconstruct.evaluation.runs import ensure_predictions
from reconstruct.evaluation.time_specific import time_specific_evidence
from reconstruct.run import run_all

FS = 125.0
PARTICIPANTS = ("p01", "p02", "p03")


def test_an_envelope_channel_is_refused_with_its_name_and_figure():
    song = make_song("s1", 60, 0)
    raw, (onset,) = continuous_raw([song], fs=FS, aux="Ch9", with_eog=False, with_trigger=False)
    eeg = raw.get_data(units="uV")[:, int(onset * FS):]
    with pytest.raises(DataFormatError, match=r"p01/s1: 1 channel\(s\) follow the song's envelope .*'Ch9': "
                                              r"r=(0\.9\d|1\.00) \(signal, lag \d+ ms\)\. Drop them \(--channels -Ch9\)") as info:
        check_leak(eeg, FS, song.audio, 22050, raw.ch_names, where="p01/s1")
    assert "\n" not in str(info.value)
    scores = check_leak(eeg, FS, song.audio, 22050, raw.ch_names, where="p01/s1", allow=["Ch9"])
    assert max(s.r for s in scores if s.channel != "Ch9") < 0.1  # the noise-only EEG channels


def test_a_recorded_waveform_is_caught_by_its_power():
    song = make_song("s1", 60, 1)
    raw, (onset,) = continuous_raw([song], fs=500.0, aux="Sound", aux_carries="waveform", with_eog=False,
                                   with_trigger=False)
    eeg = raw.get_data(units="uV")[:, int(onset * 500):]
    from scipy.signal import resample_poly
    at_125 = resample_poly(eeg, 1, 4, axis=1)
    (sound,) = [s for s in leak_scores(at_125, FS, song_envelope(song.audio, 22050, FS, at_125.shape[1]),
                                       raw.ch_names) if s.channel == "Sound"]
    assert sound.of == "power" and sound.r > THRESHOLD


def test_the_simulated_data_set_passes_the_guard():
    from reconstruct.simulate import SimulatedDataConfig, simulate_dataset
    ds = simulate_dataset(SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=60, n_channels=32,
                                           presentations="a"), progress=False)  # the default SNR, 0.4
    for r in ds.recordings:
        scores = check_leak(r.eeg, r.fs, ds.audio[r.song], ds.sr, [f"ch{i}" for i in range(32)], where=r.participant)
        assert max(s.r for s in scores) < THRESHOLD


# --- the leak, end to end ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Three participants, each one continuous BrainVision session of two 240-s songs: noise-only EEG
    beside an aux channel with the song's envelope, written twice: labelled "Audio", and plugged into T7."""
    songs = [make_song("s1", 240, 11), make_song("s2", 240, 12)]
    folders = {}
    for label in ("Audio", "T7"):
        root = tmp_path_factory.mktemp(label)
        write_songs(root, songs)
        eeg = tuple(c for c in EEG if c != label)
        lines = ["eeg_file,participant,song,audio_file,onset"]
        for i, p in enumerate(PARTICIPANTS):
            raw, onsets = continuous_raw(songs, fs=250.0, seed=20 + i, aux=label, eeg=eeg)
            write_brainvision(raw, root / "eeg" / f"{p}.vhdr")
            lines += [f"eeg/{p}.vhdr,{p},s{k},audio/s{k}.wav,{onset:.1f}" for k, onset in enumerate(onsets, 1)]
        folders[label] = write_csv(root, lines)
    return folders


def _scored(folder, run_dir, **changes) -> dict:
    config = RunConfig(run_dir=run_dir, dataset="folder", eeg_path=str(folder), decoder="ridge", input_kind="raw",
                       ridge_alpha=1.0, **changes)
    run_all(config, until="split", progress=False, log=lambda _: None)
    return time_specific_evidence(ensure_predictions(config))


def _accuracy(ev: dict, measure: str) -> float:
    return (ev["decoder"]["span_id"][measure] if measure.startswith("top") else ev["decoder"][measure])["accuracy"]


def test_an_audio_labelled_channel_is_stripped_and_the_decoder_scores_at_chance(sessions, tmp_path):
    ev = _scored(sessions["Audio"], tmp_path / "run")
    assert ev["n_test_chunks"] == 72
    assert ev["at_chance"]["same_song"] and ev["at_chance"]["top1"], (_accuracy(ev, "same_song"), _accuracy(ev, "top1"))


def test_an_envelope_channel_on_an_eeg_input_is_refused_by_the_load_stage(sessions, tmp_path):
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(sessions["T7"]))
    with pytest.raises(DataFormatError, match=r"p01/s1: 1 channel\(s\) follow the song's envelope far closer than "
                                              r"scalp EEG can .*'T7': r=(0\.9\d|1\.00) .*--allow-stimulus-like T7"):
        run_all(config, until="load", progress=False, log=lambda _: None)
    assert not (tmp_path / "run" / "data" / "eeg.npy").exists()


def test_let_through_by_the_explicit_flag_the_same_pipeline_leaks(sessions, tmp_path):
    """The control can fail: the channel the guard refuses makes the noise-only EEG 'decode' the music."""
    ev = _scored(sessions["T7"], tmp_path / "run", allow_stimulus_like=("T7",))
    assert not ev["at_chance"]["same_song"] and _accuracy(ev, "same_song") > 0.8
    saved = (tmp_path / "run" / "data" / "dataset.json").read_text()
    assert '"allowed_over_threshold": [\n      "T7"\n    ]' in saved
