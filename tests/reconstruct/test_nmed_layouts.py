"""NMED-H and NMED-T in their published layouts: names, variables, axis order, MATLAB v5 and v7.3, both
presentations, several songs, the zip form; loader options from the CLI to the loader; bad input in one line."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_loaders import FORMATS, N_CH, truncate, write_mat

from reconstruct import pipeline, stages
from reconstruct.cli import build_config, cli
from reconstruct.config import RunConfig
from reconstruct.datasets import load_nmedh, load_nmedt
from reconstruct.datasets.options import LoaderConfig, parse_audio_files, parse_offsets, parse_songs
from reconstruct.errors import DataFormatError, ParameterError
from tuneback.cli import main

N_SAMP, N_PART, SR, AUDIO_S = 250, 2, 22050, 2.5
ORIG, REV = (21, 22, 23, 24), (25, 26, 27, 28)
ARCHIVE = "CleanEEG_aggregatedByStimulus_{}"


def eeg_of(n: int, p: str) -> np.ndarray:
    """The EEG of stimulus n, presentation p, as stored: 125 electrodes x samples x participants."""
    return np.random.default_rng(n * 10 + (p == "b")).standard_normal((N_CH, N_SAMP, N_PART))


def ids_of(n: int) -> list[str]:
    """Participant ids of stimulus n: each participant heard one song, as in NMED-H's design."""
    return [f"P{n}{i:02d}" for i in range(1, N_PART + 1)]


def write_audio_ramp(path: Path) -> Path:
    """A ramp, so the sample the audio starts at after an onset offset can be read back from its value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.linspace(0, 0.5, int(AUDIO_S * SR), endpoint=False, dtype=np.float32), SR, subtype="FLOAT")
    return path


def ramp_start(offset_s: float) -> float:
    """The first value of the ramp once `offset_s` seconds are cut."""
    return 0.5 * round(offset_s * SR) / (AUDIO_S * SR)


def make_nmedh(root: Path, fmt: str, *, condition: str = "orig", form: str = "zip",
               skip: tuple[str, ...] = (), changes: dict | None = None) -> Path:
    """Write one condition as published: the archive (or its folder) of songNN_{a,b}_Imputed.mat, plus
    behaveStruct_a/b.mat and stimAssignment.mat beside it; `changes` edits one file's variables."""
    numbers = ORIG if condition == "orig" else REV
    folder = root / "stage" / ARCHIVE.format(condition)
    for n in numbers:
        for p in "ab":
            name = f"song{n}_{p}_Imputed.mat"
            if name in skip:
                continue
            contents = {f"data{n}_{p}": eeg_of(n, p), "fs": 125.0, f"subs{n}_{p}": ids_of(n)}
            contents |= (changes or {}).get(name, {})
            write_mat(folder / name, {k: v for k, v in contents.items() if v is not None}, fmt)
    for name in ("behaveStruct_a.mat", "behaveStruct_b.mat", "stimAssignment.mat"):
        write_mat(root / "NMED-H" / name, {name[:-4]: np.array([[1.0, 2.0]])}, fmt)
    if form == "zip":
        with zipfile.ZipFile(root / "NMED-H" / f"{folder.name}.zip", "w") as z:
            for path in sorted(folder.iterdir()):
                z.write(path, f"{folder.name}/{path.name}")
            z.writestr(f"__MACOSX/{folder.name}/._song21_a_Imputed.mat", b"resource fork")
    else:
        folder.rename(root / "NMED-H" / folder.name)
    for n in numbers:
        write_audio_ramp(root / "audio" / f"{n} song.wav")
    return root / "NMED-H"


@pytest.fixture(scope="module", params=FORMATS)
def published(request, tmp_path_factory) -> dict[str, Path]:
    """The orig condition, zipped and extracted, in one MAT format."""
    root = tmp_path_factory.mktemp(f"nmedh-{request.param}")
    return {"zip": make_nmedh(root / "z", request.param),
            "folder": make_nmedh(root / "f", request.param, form="folder"),
            "audio": root / "z" / "audio", "fmt": request.param}


# --- NMED-H as published -----------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["top folder", "archive", "extracted top", "extracted folder"])
def test_nmedh_loads_as_published(published, where):
    path = {"top folder": published["zip"], "archive": published["zip"] / f"{ARCHIVE.format('orig')}.zip",
            "extracted top": published["folder"],
            "extracted folder": published["folder"] / ARCHIVE.format("orig")}[where]
    ds = load_nmedh(path, published["audio"], presentations="both")
    assert (ds.name, ds.simulated, ds.songs) == ("nmedh", False, [f"song{n}" for n in ORIG])
    assert [(r.song, r.presentation, r.participant) for r in ds.recordings] == [
        (f"song{n}", p, pid) for n in ORIG for p in "ab" for pid in ids_of(n)]
    for r in ds.recordings:
        n, i = int(r.song[4:]), ids_of(int(r.song[4:])).index(r.participant)
        assert r.eeg.dtype == np.float32 and r.eeg.shape == (N_CH, N_SAMP)
        assert np.array_equal(r.eeg, eeg_of(n, r.presentation)[:, :, i].astype(np.float32))
    assert ds.held_out == [] and ds.meta["one_song_per_participant"] is True
    assert sorted(ds.meta["metadata_files"]) == ["behaveStruct_a.mat", "behaveStruct_b.mat", "stimAssignment.mat"]
    assert ds.meta["audio_offsets_s"] == {"song21": 0.54, "song22": 0.98, "song23": 0.08, "song24": 0.35}
    for n, off in zip(ORIG, (0.54, 0.98, 0.08, 0.35)):  # the published trims are the default
        assert ds.audio[f"song{n}"][0] == pytest.approx(ramp_start(off), abs=1e-6)
        assert len(ds.audio[f"song{n}"]) == int(AUDIO_S * SR) - round(off * SR)


def test_nmedh_zip_messages_name_the_member(published):
    label = ds_label = load_nmedh(published["zip"], published["audio"], songs=[21], presentations="a")
    assert label.meta["eeg_files"]["song21_a"].endswith(
        f"{ARCHIVE.format('orig')}.zip:{ARCHIVE.format('orig')}/song21_a_Imputed.mat")
    assert ds_label.meta["condition"] == "orig"


@pytest.mark.parametrize("mode, kept, held", [("a", "a", ""), ("b", "b", ""), ("holdout-b", "a", "b")])
def test_nmedh_presentation_modes(published, mode, kept, held):
    ds = load_nmedh(published["zip"], published["audio"], songs=[21, "song23"], presentations=mode)
    assert {r.presentation for r in ds.recordings} == {kept} and len(ds.recordings) == 2 * N_PART
    assert {r.presentation for r in ds.held_out} == ({held} if held else set())
    if held:  # the held-out presentation is the same participants hearing the same songs
        assert [(r.participant, r.song) for r in ds.held_out] == [(r.participant, r.song) for r in ds.recordings]
        assert np.array_equal(ds.held_out[0].eeg, eeg_of(21, "b")[:, :, 0].astype(np.float32))


def test_nmedh_options(tmp_path, published):
    fmt = published["fmt"]
    folder = tmp_path / "mine"
    for n in (21, 22):
        for p in "ab":  # another lab's export: other names, participants first
            write_mat(folder / f"stim{n}{p}.mat", {f"eeg{n}{p}": eeg_of(n, p).transpose(2, 0, 1), "srate": 125.0}, fmt)
    ds = load_nmedh(folder, published["audio"], songs=(21, 22), file_pattern="stim{n}{p}.mat", data_key="eeg{n}{p}",
                    fs_key="srate", participants_key=None, axis_order="participants,channels,samples",
                    presentations="both",
                    audio_files={21: "22 song.wav"}, audio_offsets={"song22": -0.5})
    assert [r.participant for r in ds.recordings[:2]] == ["song21_p01", "song21_p02"]
    assert np.array_equal(ds.recordings[-1].eeg, eeg_of(22, "b")[:, :, 1].astype(np.float32))
    assert ds.meta["audio_files"]["song21"].endswith("22 song.wav") and ds.meta["audio_offsets_s"]["song21"] == 0
    assert np.all(ds.audio["song22"][: SR // 2] == 0) and len(ds.audio["song22"]) == int((AUDIO_S + 0.5) * SR)


def test_nmedh_other_condition_only_on_request(tmp_path):
    top = make_nmedh(tmp_path, "v5", condition="rev")
    with pytest.raises(DataFormatError, match=r"NMED-H: no CleanEEG_aggregatedByStimulus_orig\(\.zip\) for "
                       r"condition 'orig'; there is: CleanEEG_aggregatedByStimulus_rev\.zip"):
        load_nmedh(top, tmp_path / "audio")
    with pytest.raises(DataFormatError, match=r"_rev\.zip: holds condition 'rev', not 'orig'; pass condition='rev'"):
        load_nmedh(top / f"{ARCHIVE.format('rev')}.zip", tmp_path / "audio")
    ds = load_nmedh(top, tmp_path / "audio", condition="rev")
    assert ds.songs == [f"song{n}" for n in REV] and ds.meta["audio_offsets_s"]["song25"] == 0.0


NMEDH_BAD = {  # id: (how the published files are spoilt, load options, message)
    "wrong key": ({}, {"data_key": "eeg{n}_{p}"},
                  r"song21_a_Imputed\.mat: no variable 'eeg21_a'; the file has: data21_a, fs, subs21_a"),
    "wrong rate": ({"song21_a_Imputed.mat": {"fs": 250.0}}, {},
                   r"song21_a_Imputed\.mat: sampling rate 'fs' = 250 Hz, expected 125 Hz; the file has: data21_a "
                   r"125x250x2 double"),
    "wrong shape": ({"song22_b_Imputed.mat": {"data22_b": np.zeros((N_PART, N_SAMP, N_CH))}}, {},
                    r"song22_b_Imputed\.mat: variable 'data22_b' has 2 channels .*expected 125; the file has: "
                    r"data22_b 2x250x125"),
    "no ids": ({"song21_b_Imputed.mat": {"subs21_b": None}}, {},
               r"song21_b_Imputed\.mat: no variable 'subs21_b'; the file has: data21_b, fs"),
    "ids count": ({"song21_a_Imputed.mat": {"subs21_a": ["x", "y", "z"]}}, {},
                  r"song21_a_Imputed\.mat: the EEG holds 2 participants but 'subs21_a' lists 3"),
    "b not the same people": ({"song23_b_Imputed.mat": {"subs23_b": ["P2301", "Q9"]}}, {},
                              r"song23_b_Imputed\.mat: participants differ from presentation a \(only in a: "
                              r"\['P2302'\], only in b: \['Q9'\]\)"),
    "bad template": ({}, {"data_key": "data{song}"}, r"data_key='data\{song\}' is not a valid template"),
    "unknown condition": ({}, {"condition": "orig2"}, r"condition='orig2' must be one of"),
    "song of another condition": ({}, {"songs": [21, 25]},
                                  r"songs=\[21, 25\] must be stimuli 21-24 of condition 'orig'.*25 is condition 'rev'"),
    "unknown mode": ({}, {"presentations": "ab"}, r"presentations='ab' must be one of"),
    "offset of an unloaded song": ({}, {"songs": [21], "audio_offsets": {22: 1.0}},
                                   r"audio_offsets names songs \[22\] that are not loaded"),
    "offset past the end": ({}, {"songs": [21], "audio_offsets": {21: 3.0}},
                            r"21 song\.wav: audio onset offset 3 s for song21 is not shorter than the audio"),
}


@pytest.mark.parametrize("form", ["zip", "folder"])
@pytest.mark.parametrize("changes, options, match", NMEDH_BAD.values(), ids=NMEDH_BAD.keys())
def test_nmedh_bad_input(tmp_path, form, changes, options, match):
    top = make_nmedh(tmp_path, "v73" if form == "zip" else "v5", form=form, changes=changes)
    with pytest.raises((DataFormatError, ParameterError), match=match) as info:
        load_nmedh(top, tmp_path / "audio", **options)
    assert "\n" not in str(info.value) and "tuneback-nmedh-" not in str(info.value)  # never the temporary copy


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_nmedh_missing_presentation(tmp_path, form):
    top = make_nmedh(tmp_path, "v5", form=form, skip=("song24_b_Imputed.mat",))
    with pytest.raises(DataFormatError, match=r"no song24_b_Imputed\.mat \(presentation b of stimulus 24, needed by "
                       r"presentations='holdout-b'; presentations='a' loads the other alone\); song files there: .*"
                       r"song24_a_Imputed\.mat"):
        load_nmedh(top, tmp_path / "audio")
    assert len(load_nmedh(top, tmp_path / "audio", presentations="a").recordings) == 4 * N_PART


@pytest.mark.parametrize("spoil, match", [
    (lambda z: truncate(z), r"_orig\.zip: not a readable zip archive"),
    (lambda z: z.write_text("not a zip"), r"_orig\.zip: not a readable zip archive"),
], ids=["truncated archive", "not an archive"])
def test_nmedh_bad_archive(tmp_path, spoil, match):
    spoil(make_nmedh(tmp_path, "v5") / f"{ARCHIVE.format('orig')}.zip")
    with pytest.raises(DataFormatError, match=match):
        load_nmedh(tmp_path / "NMED-H", tmp_path / "audio")


def test_nmedh_corrupt_member_named_inside_archive(tmp_path):
    truncate(make_nmedh(tmp_path, "v5", form="folder") / ARCHIVE.format("orig") / "song22_a_Imputed.mat")
    folder = tmp_path / "NMED-H" / ARCHIVE.format("orig")
    with zipfile.ZipFile(tmp_path / "orig.zip", "w") as z:
        for path in folder.iterdir():
            z.write(path, f"{folder.name}/{path.name}")
    with pytest.raises(DataFormatError, match=r"orig\.zip:CleanEEG_aggregatedByStimulus_orig/song22_a_Imputed\.mat: "
                       r"truncated or corrupt MATLAB v5"):
        load_nmedh(tmp_path / "orig.zip", tmp_path / "audio")


# --- NMED-T gains the same options -----------------------------------------------------------------

def make_nmedt(root: Path, fmt: str, *, names: str = "song{n}_Imputed.mat") -> tuple[Path, Path]:
    """Songs 21-23 in NMED-T's layout (20 participants in the real files, 2 here) and ramp audio."""
    for n in (21, 22, 23):
        write_mat(root / "eeg" / names.format(n=n), {f"data{n}": eeg_of(n, "a"), "fs": 125.0,
                                                     f"subs{n}": [f"S{i:02d}" for i in (1, 2)]}, fmt)
        write_audio_ramp(root / "audio" / f"{n} track.wav")
    return root / "eeg", root / "audio"


@pytest.mark.parametrize("fmt", FORMATS)
def test_nmedt_audio_mapping_and_offsets(tmp_path, fmt):
    eeg_dir, audio_dir = make_nmedt(tmp_path, fmt)
    write_audio_ramp(audio_dir / "bought" / "First Fires.wav")
    ds = load_nmedt(eeg_dir, audio_dir, songs=[21, 22, 23], audio_files={21: "bought/First Fires.wav"},
                    audio_offsets={22: 0.25})
    assert ds.meta["audio_files"]["song21"].endswith("First Fires.wav")
    assert ds.meta["audio_offsets_s"] == {"song21": 0.0, "song22": 0.25, "song23": 0.0}
    assert ds.audio["song22"][0] == pytest.approx(ramp_start(0.25), abs=1e-6) and ds.audio["song21"][0] == 0
    assert [r.participant for r in ds.recordings] == ["S01", "S02"] * 3 and ds.recordings[0].presentation == ""


def test_nmedt_names_and_keys_are_options(tmp_path):
    eeg_dir, audio_dir = make_nmedt(tmp_path, "v73", names="NMEDT_{n}.mat")
    ds = load_nmedt(eeg_dir, audio_dir, songs=[22], file_pattern="NMEDT_{n}.mat", participants_key=None)
    assert [r.participant for r in ds.recordings] == ["song22_p01", "song22_p02"]
    with pytest.raises(DataFormatError, match=r"NMEDT_22\.mat: no variable 'X22'; the file has: data22, fs, subs22"):
        load_nmedt(eeg_dir, audio_dir, songs=[22], file_pattern="NMEDT_{n}.mat", data_key="X{n}")


# --- CLI -> config -> loader --------------------------------------------------------------------------

def cli_config(*args: str) -> RunConfig:
    """Parse `tuneback reconstruct load ARGS` into the RunConfig the stage gets."""
    command = cli.commands["load"]
    with command.make_context("load", list(args)) as ctx:
        params = dict(ctx.params)
    params.pop("force"), params.pop("quiet")
    return build_config(**params)


def test_cli_reaches_every_nmedh_option(published, tmp_path):
    config = cli_config("--dataset", "nmedh", "--eeg", str(published["zip"]), "--audio", str(published["audio"]),
                        "--presentations", "holdout-b", "--load-songs", "21,song22", "--audio-offsets", "21=0.1",
                        "--audio-file", "22=21 song.wav", "--eeg-pattern", "song{n}_{p}_Imputed.mat",
                        "--data-key", "data{n}_{p}", "--fs-key", "fs", "--subs-key", "subs{n}_{p}",
                        "--axis-order", "channels,samples,participants", "--run-dir", str(tmp_path / "run"))
    assert config.loader == LoaderConfig(presentations="holdout-b", songs=(21, 22),
                                         file_pattern="song{n}_{p}_Imputed.mat", data_key="data{n}_{p}",
                                         fs_key="fs", participants_key="subs{n}_{p}",
                                         audio_offsets=((21, 0.1),), audio_files=((22, "21 song.wav"),))
    ds = pipeline.load_dataset(config, progress=False)
    assert ds.songs == ["song21", "song22"] and len(ds.held_out) == 2 * N_PART
    assert ds.meta["audio_offsets_s"] == {"song21": 0.1, "song22": 0.0}


def test_cli_nmedt_and_none_keys(tmp_path):
    eeg_dir, audio_dir = make_nmedt(tmp_path, "v5")
    config = cli_config("--dataset", "nmedt", "--eeg", str(eeg_dir), "--audio", str(audio_dir), "--load-songs", "23",
                        "--subs-key", "none", "--audio-offsets", "none")
    ds = pipeline.load_dataset(config, progress=False)
    assert [r.participant for r in ds.recordings] == ["song23_p01", "song23_p02"]


def test_load_stage_keeps_held_out_presentation_apart(published, tmp_path, monkeypatch):
    monkeypatch.setattr(RunConfig, "used_s", property(lambda self: 1))  # the config says 240 s; these files hold 2 s
    config = cli_config("--dataset", "nmedh", "--eeg", str(published["zip"]), "--audio", str(published["audio"]),
                        "--presentations", "holdout-b", "--run-dir", str(tmp_path / "run"))
    summary = pipeline.stage_load(config, progress=False)
    data = tmp_path / "run" / "data"
    rows = list(csv.DictReader(open(data / "recordings.csv")))
    held = list(csv.DictReader(open(data / "held_out" / "recordings.csv")))
    assert {r["presentation"] for r in rows} == {"a"} and {r["presentation"] for r in held} == {"b"}
    assert np.load(data / "eeg.npy").shape == np.load(data / "held_out" / "eeg.npy").shape == (4 * N_PART, N_CH, 125)
    assert summary["n_held_out"] == 4 * N_PART
    assert json.loads((data / "dataset.json").read_text())["meta"]["presentations"] == "holdout-b"


def test_load_fingerprint_covers_loader_options_of_real_data_only(published):
    base = RunConfig(dataset="nmedh", eeg_path=str(published["zip"]))
    other = base.with_(loader=LoaderConfig(presentations="a"))
    assert stages.stage_params(base, "load")["loader"]["presentations"] == "holdout-b"
    assert stages.stage_params(base, "load") != stages.stage_params(other, "load")
    assert "loader" not in stages.stage_params(RunConfig(), "load")  # simulated runs keep their fingerprints


@pytest.mark.parametrize("args, match", [
    (["--dataset", "nmedh", "--eeg", "{top}", "--audio", "{audio}", "--data-key", "X{n}_{p}"],
     r"^error: .*song21_a_Imputed\.mat: no variable 'X21_a'; the file has: data21_a, fs, subs21_a$"),
    (["--dataset", "nmedh", "--eeg", "{top}", "--audio", "{audio}", "--condition", "meas"],
     r"^error: .*no CleanEEG_aggregatedByStimulus_meas\(\.zip\) for condition 'meas'"),
    (["--dataset", "nmedh", "--eeg", "{top}/CleanEEG_aggregatedByStimulus_orig.zip"],
     r"^error: --eeg .*\.zip is not a folder: give the songs' folder with --audio DIR$"),
    (["--dataset", "nmedt", "--eeg", "{top}", "--condition", "rev"],
     r"^error: --condition apply to --dataset nmedh only"),
    (["--eeg", "{top}", "--dataset", "folder", "--data-key", "x"], r"^error: loader options \['data_key'\] apply to"),
    (["--audio-offsets", "21:0.5"], r"^error: --audio-offsets='21:0.5' must be 'default', 'none' or SONG=SECONDS"),
    (["--audio-file", "21"], r"^error: --audio-file='21' must be SONG=FILE"),
], ids=["wrong key", "absent condition", "zip without audio", "nmedh option on nmedt", "option on folder",
        "bad offsets", "bad audio file"])
def test_cli_bad_input_is_one_line(published, tmp_path, capsys, args, match):
    fill = {"top": str(published["zip"]), "audio": str(published["audio"])}
    args = [a.replace("{top}", fill["top"]).replace("{audio}", fill["audio"]) for a in args]
    argv = ["reconstruct", "load", "--run-dir", str(tmp_path / "run"), "--quiet", *args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err and "Traceback" not in err
    assert re.search(match, err), err


@pytest.mark.parametrize("text, expected", [
    ("default", None), ("none", ()), ("21=0.54, song22=-1", ((21, 0.54), (22, -1.0)))])
def test_parse_offsets(text, expected):
    assert parse_offsets(text) == expected


def test_parse_songs_and_audio_files():
    assert parse_songs("21,song22") == (21, 22) and parse_songs("") is None
    assert parse_audio_files(["22=b.wav", "21=a b.mp3"]) == ((21, "a b.mp3"), (22, "b.wav"))
