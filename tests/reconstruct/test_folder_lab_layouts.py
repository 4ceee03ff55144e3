"""The bring-your-own folder on files laid out as labs record them (lab_recordings.py): several songs in one
continuous file, EOG, an audio aux and a trigger channel stored untyped, bads marked, channels reordered, a
marker repeated at every song. Each silent failure of issue 26 has a test here (or in test_loaders.py /
test_folder_mne.py) whose core assertion the old loader (bd7651a) fails: it kept the aux channels and the
bads, matched channels by count, gave every song the first marker's EEG, reused a stale load, ran a blank
fs at 125 Hz and ignored --audio; a DC offset rang through its resampling."""

from __future__ import annotations

import os
import re
from pathlib import Path

import mne
import numpy as np
import pytest
import soundfile as sf
from lab_recordings import EEG, MARKER, continuous_raw, make_song, write_brainvision, write_csv, write_edf, write_songs
from scipy.signal import resample_poly

from reconstruct import pipeline, stages
from reconstruct.config import RunConfig
from reconstruct.datasets import load_folder
from reconstruct.errors import DataFormatError
from reconstruct.split import CHUNK_S, make_split, target_overlap

HEADER = "eeg_file,participant,song,audio_file,onset"
AUX = ["VEOG", "HEOG", "Audio", "Trigger"]


@pytest.fixture(scope="module")
def songs():
    return [make_song("s1", 240, 1), make_song("s2", 240, 2)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, songs):
    """Two participants, each one continuous BrainVision session of both songs, every channel typed EEG."""
    root = tmp_path_factory.mktemp("lab")
    write_songs(root, songs)
    sessions = {}
    for i, p in enumerate(("p01", "p02")):
        raw, onsets = continuous_raw(songs, seed=i)
        write_brainvision(raw, root / "eeg" / f"{p}.vhdr")
        sessions[p] = (raw, onsets)
    return root, sessions


def _lines(onsets_of: dict[str, list[str]], suffix: str = "vhdr") -> list[str]:
    return [HEADER] + [f"eeg/{p}.{suffix},{p},s{k + 1},audio/s{k + 1}.wav,{onset}"
                       for p, onsets in onsets_of.items() for k, onset in enumerate(onsets)]


def _expected(raw: mne.io.BaseRaw, name: str, onset_s: float, seconds: int = 240) -> np.ndarray:
    """What the loader should give for one channel: µV, from the onset, demeaned, at 125 Hz."""
    fs = raw.info["sfreq"]
    x = raw.get_data(picks=[name], units="uV")[0, int(round(onset_s * fs)):int(round(onset_s * fs)) + int(seconds * fs)]
    return resample_poly(x - x.mean(), 125, int(fs))[: seconds * 125]


# --- 1. stimulus, EOG and trigger channels ----------------------------------------------------------

def test_eog_audio_and_trigger_channels_of_a_brainvision_session_never_reach_the_decoder(lab):
    root, sessions = lab
    write_csv(root, _lines({p: [f"{o:.1f}" for o in on] for p, (_, on) in sessions.items()}))
    ds = load_folder(root)
    assert [r.eeg.shape[0] for r in ds.recordings] == [len(EEG)] * 4  # the old loader kept all 16 channels
    assert ds.meta["channel_names"] == list(EEG)
    dropped = ds.meta["recordings"]["p01/s1"]["dropped"]
    assert set(dropped) == set(AUX) and "from its label" in dropped["Audio"] and dropped["Trigger"].startswith("stim")


def test_edf_typed_labels_are_read_as_types(tmp_path, songs):
    raw, onsets = continuous_raw(songs[:1], seed=3)
    write_edf(raw, tmp_path / "eeg" / "p01.edf", typed_labels={"VEOG": "EOG", "HEOG": "EOG", "Audio": "MISC",
                                                               "Trigger": "TRIG"})
    write_songs(tmp_path, songs[:1])
    write_csv(tmp_path, [HEADER, f"eeg/p01.edf,p01,s1,audio/s1.wav,{onsets[0]}"])
    ds = load_folder(tmp_path)
    assert ds.recordings[0].eeg.shape[0] == len(EEG) and ds.meta["channel_names"] == list(EEG)
    dropped = ds.meta["recordings"]["p01/s1"]["dropped"]  # MNE strips the EDF types it knows, not "TRIG"
    assert dropped == {"VEOG": "eog (typed so in the file)", "HEOG": "eog (typed so in the file)",
                       "Audio": "misc (typed so in the file)", "TRIG Trigger": "stim (from its label)"}


# --- 2, 3. bad channels, channel order ---------------------------------------------------------------

@pytest.fixture(scope="module")
def fif_lab(tmp_path_factory, songs):
    """FIF sessions of one song: p01 marks a flat Cz and a 300 µV O1 bad; p02 stores its channels reversed;
    p03 is plain."""
    root = tmp_path_factory.mktemp("fif")
    write_songs(root, songs[:1])
    raws = {}
    for i, p in enumerate(("p01", "p02", "p03")):
        raw, _ = continuous_raw(songs[:1], seed=10 + i, all_typed_eeg=False)
        if p == "p01":
            raw._data[raw.ch_names.index("Cz")] = 0.0
            raw._data[raw.ch_names.index("O1")] *= 15
            raw.info["bads"] = ["Cz", "O1"]
        elif p == "p02":
            raw.reorder_channels(raw.ch_names[::-1])
        raw.save(root / f"{p}_raw.fif", verbose="error")
        raws[p] = raw
    return root, raws


def _fif_csv(root: Path, *participants: str) -> Path:
    return write_csv(root, [HEADER] + [f"{p}_raw.fif,{p},s1,audio/s1.wav,{MARKER}" for p in participants])


def test_channels_the_file_marks_bad_are_dropped(fif_lab):
    root, _ = fif_lab
    ds = load_folder(_fif_csv(root, "p01"))
    assert ds.meta["channel_names"] == [c for c in EEG if c not in ("Cz", "O1")]  # the old loader kept both
    assert ds.recordings[0].eeg.shape[0] == len(EEG) - 2
    assert ds.meta["recordings"]["p01/s1"]["dropped"]["Cz"] == "marked bad in the file"


def test_a_channel_one_recording_lacks_is_refused_by_name(fif_lab):
    root, _ = fif_lab
    with pytest.raises(DataFormatError, match=r"line 3 \(p02_raw\.fif\): has channel\(s\) O1, Cz that line 2 "
                                              r"\(p01_raw\.fif\) lacks; .*--bads interpolate") as info:
        load_folder(_fif_csv(root, "p01", "p02"))
    assert "\n" not in str(info.value)


def test_bads_can_be_interpolated_or_dropped_everywhere(fif_lab):
    from reconstruct.datasets.channels import ChannelOptions
    from reconstruct.datasets.options import FolderOptions
    root, _ = fif_lab
    ds = load_folder(_fif_csv(root, "p01", "p02"), options=FolderOptions(channels=ChannelOptions(bads="interpolate")))
    assert ds.meta["channel_names"] == list(EEG)
    cz = ds.recordings[0].eeg[EEG.index("Cz")]
    assert cz.std() > 1.0 and ds.meta["recordings"]["p01/s1"]["interpolated"] == ["Cz", "O1"]
    ds = load_folder(root, options=FolderOptions(channels=ChannelOptions(drop=("Cz", "O1"))))
    assert ds.meta["channel_names"] == [c for c in EEG if c not in ("Cz", "O1")]


def test_reordered_channels_are_matched_by_name(fif_lab):
    root, raws = fif_lab
    ds = load_folder(_fif_csv(root, "p03", "p02"))
    onset = raws["p02"].annotations.onset[0]
    for i, name in enumerate(EEG):  # p02 stores them the other way round: each row must be its own channel
        r = np.corrcoef(ds.recordings[1].eeg[i, :240 * 125], _expected(raws["p02"], name, onset))[0, 1]
        assert r > 0.999, (name, r)
    assert ds.meta["channel_names"] == list(EEG)  # the first line's order, saved with the run


def test_a_keep_or_drop_list_applies_to_every_recording(fif_lab):
    from reconstruct.datasets.channels import ChannelOptions
    from reconstruct.datasets.options import FolderOptions
    root, raws = fif_lab
    ds = load_folder(_fif_csv(root, "p02", "p01"), options=FolderOptions(channels=ChannelOptions(drop=("Cz", "O1"))))
    names = ds.meta["channel_names"]
    assert names == [c for c in EEG[::-1] if c not in ("Cz", "O1")]  # p02's order, the first line's
    onset = raws["p01"].annotations.onset[0]
    for i, name in enumerate(names):
        np.testing.assert_allclose(ds.recordings[1].eeg[i], _expected(raws["p01"], name, onset), atol=0.05)


def test_a_keep_list_sets_the_order_and_refuses_a_non_eeg_channel(fif_lab):
    from reconstruct.datasets.channels import ChannelOptions
    from reconstruct.datasets.options import FolderOptions
    root, _ = fif_lab
    _fif_csv(root, "p01", "p02")
    ds = load_folder(root, options=FolderOptions(channels=ChannelOptions(keep=("Pz", "Fz", "C3"))))
    assert ds.meta["channel_names"] == ["Pz", "Fz", "C3"] and ds.recordings[1].eeg.shape[0] == 3
    with pytest.raises(DataFormatError, match=r"--channels keeps VEOG, but it is eog \(typed so in the file\)"):
        load_folder(root, options=FolderOptions(channels=ChannelOptions(keep=("Fz", "VEOG"))))


def test_the_load_stage_saves_and_prints_each_recordings_channels(lab, tmp_path, capsys):
    root, sessions = lab
    write_csv(root, _lines({"p01": [f"{o:.1f}" for o in sessions["p01"][1]]}))
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root))
    summary = pipeline.stage_load(config, progress=True)
    saved = (tmp_path / "run" / "data" / "dataset.json").read_text()
    assert '"channel_names"' in saved and '"VEOG": "eog (from its label)"' in saved
    assert summary["meta"]["eeg_fs"] == {"p01/s1": 250.0, "p01/s2": 250.0}  # the file's rate, not 125
    out = capsys.readouterr()
    assert f"[load] {len(EEG)} EEG channels kept, in this order: Fp1, Fp2" in out.out + out.err
    assert "dropped VEOG: eog (from its label); HEOG: eog" in out.out + out.err


# --- 4. markers and onsets ---------------------------------------------------------------------------

def test_a_marker_repeated_at_every_song_is_refused(lab):
    root, _ = lab
    write_csv(root, _lines({"p01": [MARKER, MARKER]}))
    with pytest.raises(DataFormatError, match=r"line 2: marker 'song onset' occurs 2 times in p01\.vhdr "
                                              r"\(at 2\.00, 245\.00 s\); say which") as info:
        load_folder(root)  # the old loader gave both songs the first marker's EEG
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("second", [f"{MARKER}#2", "occurrence"])
def test_a_numbered_marker_gives_each_song_its_own_eeg(lab, second):
    root, sessions = lab
    if second == "occurrence":
        write_csv(root, ["eeg_file,participant,song,audio_file,onset,onset_occurrence",
                         f"eeg/p01.vhdr,p01,s1,audio/s1.wav,{MARKER},1", f"eeg/p01.vhdr,p01,s2,audio/s2.wav,{MARKER},2"])
    else:
        write_csv(root, _lines({"p01": [f"{MARKER}#1", second]}))
    ds = load_folder(root)
    raw, onsets = sessions["p01"]
    for rec, onset in zip(ds.recordings, onsets):
        np.testing.assert_allclose(rec.eeg[0], _expected(raw, EEG[0], onset), atol=0.05)
    assert not np.allclose(ds.recordings[0].eeg, ds.recordings[1].eeg)


def test_two_lines_reading_overlapping_stretches_of_one_file_are_refused(lab):
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "100.0"]}))
    with pytest.raises(DataFormatError, match=r"line 3: reads 100\.0-340\.0 s of p01\.vhdr, which overlaps "
                                              r"2\.0-242\.0 s read by line 2"):
        load_folder(root)


def test_an_audio_latency_moves_the_start(lab):
    root, sessions = lab
    write_csv(root, ["eeg_file,participant,song,audio_file,onset,audio_latency_ms",
                     f"eeg/p01.vhdr,p01,s1,audio/s1.wav,{MARKER}#1,40"])
    ds = load_folder(root)
    raw, onsets = sessions["p01"]
    assert ds.meta["recordings"]["p01/s1"]["start_s"] == pytest.approx(onsets[0] + 0.040)
    np.testing.assert_allclose(ds.recordings[0].eeg[0], _expected(raw, EEG[0], onsets[0] + 0.040), atol=0.05)


# --- 5. the load cache sees its inputs ---------------------------------------------------------------

def test_editing_the_csv_or_an_eeg_file_reloads(lab, tmp_path):
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "245.0"]}))
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root))
    stages.mark_done(config, "load", {}, 0.0)
    assert stages.is_done(config, "load")
    write_csv(root, _lines({"p01": ["2.0", "245.5"]}))  # the old load stage said "up to date, reusing"
    assert not stages.is_done(config, "load")
    stages.mark_done(config, "load", {}, 0.0)
    eeg = root / "eeg" / "p01.eeg"
    os.utime(eeg, ns=(eeg.stat().st_atime_ns, eeg.stat().st_mtime_ns + 10**9))  # the samples re-exported
    assert not stages.is_done(config, "load")


# --- 6, 7. clocks, --audio, DC offsets ------------------------------------------------------------------

def _array_folder(root: Path, eeg: np.ndarray, fs: str, seconds: float = 245.0) -> Path:
    (root / "eeg").mkdir(parents=True, exist_ok=True)
    np.save(root / "eeg" / "a.npy", eeg)
    sf.write(root / "s1.wav", np.zeros(int(seconds * 8000), dtype=np.int16), 8000)  # silent: only its length counts
    return write_csv(root, ["eeg_file,participant,song,audio_file,fs", f"eeg/a.npy,p01,s1,s1.wav,{fs}"])


def test_a_blank_fs_is_never_guessed_and_the_real_rate_is_recorded(tmp_path):
    eeg = np.random.default_rng(0).standard_normal((4, 250 * 245))
    with pytest.raises(DataFormatError, match=r"line 2: fs is blank, and a\.npy does not say its sampling rate"):
        load_folder(_array_folder(tmp_path, eeg, ""))  # the old loader ran it at 125 Hz: half speed
    ds = load_folder(_array_folder(tmp_path, eeg, "250"))
    assert ds.meta["eeg_fs"] == {"p01/s1": 250.0} and ds.recordings[0].eeg.shape == (4, 240 * 125)


def test_a_dc_offset_does_not_ring_through_resampling(tmp_path):
    rng = np.random.default_rng(1)
    eeg = 5000.0 + rng.standard_normal((4, 500 * 245))  # a 5 mV offset, as DC-coupled amplifiers give
    ds = load_folder(_array_folder(tmp_path, eeg, "500"))
    x = ds.recordings[0].eeg
    assert np.abs(x - np.median(x, axis=1, keepdims=True)).max() < 10  # the old loader rang by ±400 µV at the edges


def test_audio_comes_from_the_audio_folder_when_given(lab, tmp_path, songs):
    root, sessions = lab
    write_csv(root, _lines({"p01": [f"{o:.1f}" for o in sessions["p01"][1]]}))
    other = tmp_path / "other_audio"
    (other / "audio").mkdir(parents=True)
    for song in songs:  # same names, other sound: --audio must be the one read
        sf.write(other / "audio" / f"{song.name}.wav", -song.audio, 22050, subtype="FLOAT")
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root), audio_path=str(other))
    ds = pipeline.load_dataset(config, progress=False)
    np.testing.assert_allclose(ds.audio["s1"], -songs[0].audio, atol=1e-6)
    assert ds.meta["audio_files"]["s1"].startswith(str(other))
    assert load_folder(root).audio["s1"][1000] == pytest.approx(songs[0].audio[1000])  # without --audio: the folder's


# --- lengths -----------------------------------------------------------------------------------------

def test_a_short_recording_is_refused_up_front_naming_its_line(lab, monkeypatch):
    from reconstruct.datasets import folder
    root, sessions = lab
    monkeypatch.setattr(folder, "read_stretch", lambda *a, **k: pytest.fail("EEG read before the lengths were checked"))
    write_csv(root, _lines({"p01": ["2.0", "250.0"], "p02": ["2.0", "245.0"]}))
    with pytest.raises(DataFormatError, match=r"line 3: p01\.vhdr holds 237\.0 s after the song onset \(250\.0 s\), "
                                              r"less than the 240 s used \(--length\); 1 of 4 line\(s\) fall short\. "
                                              r"Choose --short common to use the 235 s") as info:
        load_folder(root)
    assert "\n" not in str(info.value)


def test_audio_shorter_than_its_eeg_is_refused_not_cut(tmp_path):
    eeg = np.random.default_rng(0).standard_normal((4, 125 * 245))
    _array_folder(tmp_path, eeg, "125", seconds=230.0)
    with pytest.raises(DataFormatError, match=r"line 2: the audio s1\.wav is 230\.0 s long, less than the 240 s used"):
        load_folder(tmp_path)


def test_the_common_length_is_used_when_chosen_and_the_split_adapts(lab):
    from reconstruct.datasets.options import FolderOptions
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "250.0"], "p02": ["2.0", "245.0"]}))
    ds = load_folder(root, options=FolderOptions(short="common"))
    assert ds.meta["used_s"] == 235 and all(r.eeg.shape[1] == 235 * 125 for r in ds.recordings)
    songs = [r.song for r in ds.recordings]
    split = make_split(songs, seed=0, used_s=ds.meta["used_s"])
    assert split.n_chunks == 235 // CHUNK_S == 47
    assert (split.chunk_roles[0] == split.chunk_roles[2]).all()  # still one pattern per song
    assert target_overlap(split, songs)["test_targets_in_training"] == 0


def test_the_load_stage_records_the_common_length_for_the_later_stages(lab, tmp_path):
    from reconstruct.datasets.options import FolderOptions
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "250.0"]}))
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root),
                       folder=FolderOptions(short="common"))
    summary = pipeline.stage_load(config, progress=False)
    assert summary["used_s"] == 235 and pipeline.used_seconds(config) == 235
    assert np.load(tmp_path / "run" / "data" / "eeg.npy").shape[2] == 235 * 125


def test_folder_options_on_another_dataset_are_refused():
    from reconstruct.datasets.options import FolderOptions
    from reconstruct.errors import ParameterError
    with pytest.raises(ParameterError, match=re.escape("--length apply to --dataset folder only")):
        RunConfig(folder=FolderOptions(length_s=120))


# --- the CLI -----------------------------------------------------------------------------------------

def test_the_cli_reaches_every_folder_option(tmp_path):
    from reconstruct.cli import build_config, cli
    from reconstruct.datasets.channels import ChannelOptions
    (tmp_path / "names.txt").write_text("Pz\nFz, Cz\n")
    command = cli.commands["load"]
    args = ["--dataset", "folder", "--eeg", str(tmp_path), "--channels", f"@{tmp_path / 'names.txt'},-Oz",
            "--bads", "interpolate", "--length", "120", "--short", "common", "--allow-stimulus-like", "T7, T8"]
    with command.make_context("load", args) as ctx:
        params = dict(ctx.params)
    params.pop("force"), params.pop("quiet")
    config = build_config(**params)
    assert config.folder.channels == ChannelOptions(keep=("Pz", "Fz", "Cz"), drop=("Oz",), bads="interpolate")
    assert (config.folder.length_s, config.folder.short, config.allow_stimulus_like) == (120, "common", ("T7", "T8"))


@pytest.mark.parametrize("args, match", [
    (["--dataset", "folder", "--eeg", "{lab}"], r"^error: .*line 2: marker 'song onset' occurs 2 times in p01\.vhdr"),
    (["--channels", "-Fz"], r"^error: --channels/--bads apply to --dataset folder only, not 'simulated'$"),
    (["--allow-stimulus-like", "T7"], r"^error: --allow-stimulus-like applies to real data sets"),
    (["--dataset", "folder", "--eeg", "{lab}", "--length", "7"], r"^error: --length=7 must be a multiple of 5 s"),
], ids=["repeated marker", "channels on simulated", "allow on simulated", "bad length"])
def test_cli_bad_folder_input_is_one_line(lab, tmp_path, capsys, args, match):
    from tuneback.cli import main
    root, _ = lab
    write_csv(root, _lines({"p01": [MARKER, MARKER]}))
    argv = ["reconstruct", "load", "--run-dir", str(tmp_path / "run"), "--quiet",
            *[a.replace("{lab}", str(root)) for a in args]]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err and "Traceback" not in err
    assert re.search(match, err), err


def test_bads_without_known_positions_cannot_be_interpolated(tmp_path, songs):
    from reconstruct.datasets.channels import ChannelOptions
    from reconstruct.datasets.options import FolderOptions
    raw, onsets = continuous_raw(songs[:1], seed=5, eeg=tuple(f"E{i}" for i in range(1, 9)), all_typed_eeg=False)
    raw.info["bads"] = ["E3"]
    raw.save(tmp_path / "p01_raw.fif", verbose="error")
    write_songs(tmp_path, songs[:1])
    write_csv(tmp_path, [HEADER, f"p01_raw.fif,p01,s1,audio/s1.wav,{onsets[0]}"])
    with pytest.raises(DataFormatError, match=r"line 2: cannot interpolate bad channel\(s\) E3 of p01_raw\.fif "
                                              r"\(.*\); use --bads drop") as info:
        load_folder(tmp_path, options=FolderOptions(channels=ChannelOptions(bads="interpolate")))
    assert "\n" not in str(info.value)


def test_a_changed_song_in_the_audio_folder_reloads(lab, tmp_path, songs):
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "245.0"]}))
    other = tmp_path / "audio_dir"
    (other / "audio").mkdir(parents=True)
    for song in songs:
        sf.write(other / "audio" / f"{song.name}.wav", song.audio, 22050, subtype="FLOAT")
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root), audio_path=str(other))
    stages.mark_done(config, "load", {}, 0.0)
    assert stages.is_done(config, "load")
    sf.write(other / "audio" / "s2.wav", songs[1].audio[:22050 * 241], 22050, subtype="FLOAT")
    assert not stages.is_done(config, "load")


def test_the_load_stage_takes_another_length_from_the_config(lab, tmp_path):
    from reconstruct.datasets.options import FolderOptions
    root, _ = lab
    write_csv(root, _lines({"p01": ["2.0", "250.0"]}))
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(root),
                       folder=FolderOptions(length_s=120))
    summary = pipeline.stage_load(config, progress=False)
    assert config.used_s == summary["used_s"] == pipeline.used_seconds(config) == 120
    assert np.load(tmp_path / "run" / "data" / "eeg.npy").shape[2] == 120 * 125
