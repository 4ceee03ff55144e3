"""Real-data loaders: v5 and v7.3 MAT files read alike; NMED-T and folder data sets load into one shape;
every bad file fails with one line that names it. All files are written here, in the real formats.
NMED-H, and the options both NMED loaders share, are tested in test_nmed_layouts.py with these writers."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import soundfile as sf
from scipy.signal import resample_poly

from reconstruct.datasets import find_numbered_file, load_audio, load_folder, load_nmedt
from reconstruct.datasets.options import FolderOptions
from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.matfile import read_mat, whos

N_CH, N_SAMP, N_PART = 125, 250, 2
FORMATS = ("v5", "v73")
SR = 22050

# The 128-byte text header MATLAB writes into the 512-byte HDF5 userblock of a v7.3 file.
MAT73_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
                b"HDF5 schema 1.00 .").ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM"


# --- writers for the real formats -----------------------------------------------------------------

def savemat73(path: Path, mdict: dict) -> None:
    """Write a MATLAB v7.3 file the way MATLAB does: header userblock, HDF5, column-major arrays."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in mdict.items():
            _write73(f, f, name, value)
    with open(path, "r+b") as fh:
        fh.write(MAT73_HEADER)


def _write73(f: h5py.File, group: h5py.Group, name: str, value) -> None:
    """Write one variable: str as char (uint16), list as a 1xN cell of references, else numeric."""
    if isinstance(value, str):
        dset = group.create_dataset(name, data=np.array([[ord(c)] for c in value], dtype=np.uint16))
        dset.attrs["MATLAB_class"] = np.bytes_("char")
        dset.attrs["MATLAB_int_decode"] = np.int32(2)
    elif isinstance(value, list):
        refs = f.require_group("#refs#")
        for i, item in enumerate(value):
            _write73(f, refs, f"{name}_{i}", item)
        cells = np.array([[refs[f"{name}_{i}"].ref] for i in range(len(value))], dtype=h5py.ref_dtype)
        group.create_dataset(name, data=cells).attrs["MATLAB_class"] = np.bytes_("cell")
    else:
        array = np.atleast_2d(np.asarray(value))
        mclass = {"float64": "double", "float32": "single"}.get(array.dtype.name, array.dtype.name)
        group.create_dataset(name, data=array.T).attrs["MATLAB_class"] = np.bytes_(mclass)


def write_mat(path: Path, mdict: dict, fmt: str) -> Path:
    """Write `mdict` as MATLAB v5 (scipy) or v7.3 (HDF5); lists become cell arrays in both."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "v73":
        savemat73(path, mdict)
    else:
        scipy.io.savemat(path, {k: np.array(v, dtype=object) if isinstance(v, list) else v
                                for k, v in mdict.items()})
    return path


def write_audio(path: Path, *, sr: int = SR, seconds: float = 1.0, gains: tuple[float, ...] = (0.5,)) -> Path:
    """Write a 440 Hz tone, one channel per gain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = np.sin(2 * np.pi * 440 * np.arange(int(sr * seconds)) / sr)
    sf.write(path, np.stack([g * tone for g in gains], axis=1), sr)
    return path


def truncate(path: Path) -> None:
    """Cut a file in half, as an interrupted download would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def eeg() -> dict[int, np.ndarray]:
    """Per song number, EEG as stored: channels x samples x participants."""
    rng = np.random.default_rng(0)
    return {n: rng.standard_normal((N_CH, N_SAMP, N_PART)) for n in (1, 2, 21, 22)}


# --- read_mat ---------------------------------------------------------------------------------------

def test_v5_and_v73_read_identically(tmp_path, eeg):
    contents = {"data21": eeg[21], "fs": 125.0, "subs21": ["S01", "S02"], "note": "hello"}
    v5 = read_mat(write_mat(tmp_path / "a.mat", contents, "v5"))
    v73 = read_mat(write_mat(tmp_path / "b.mat", contents, "v73"))
    assert sorted(v5) == sorted(v73) == sorted(contents)
    assert np.array_equal(v5["data21"], eeg[21]) and np.array_equal(v73["data21"], eeg[21])
    assert v5["fs"] == v73["fs"] == 125.0
    assert v5["subs21"] == v73["subs21"] == ["S01", "S02"]
    assert v5["note"] == v73["note"] == "hello"


def test_v73_fixture_is_laid_out_like_matlab(tmp_path, eeg):
    path = write_mat(tmp_path / "a.mat", {"data21": eeg[21]}, "v73")
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file" and h5py.is_hdf5(path)
    with h5py.File(path, "r") as f:
        assert f["data21"].shape == (N_PART, N_SAMP, N_CH)  # column-major: dimensions reversed


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_mat_reads_only_requested_keys(tmp_path, eeg, fmt):
    path = write_mat(tmp_path / "a.mat", {"data21": eeg[21], "fs": 125.0}, fmt)
    assert read_mat(path, keys=["fs"]) == {"fs": 125.0}


@pytest.mark.parametrize("fmt", FORMATS)
def test_whos_gives_matlab_shapes(tmp_path, eeg, fmt):
    path = write_mat(tmp_path / "a.mat", {"data21": eeg[21], "fs": 125.0}, fmt)
    assert {v.name: v.shape for v in whos(path)} == {"data21": (N_CH, N_SAMP, N_PART), "fs": (1, 1)}


# --- audio --------------------------------------------------------------------------------------------

def test_load_audio_mixes_to_mono_and_resamples(tmp_path):
    y = load_audio(write_audio(tmp_path / "s.wav", sr=44100, gains=(0.5, 0.0)))
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == SR
    assert np.abs(y).max() == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("name, matches", [
    ("song1.wav", True), ("01 Tum Hi Ho.mp3", True), ("stim_001.FLAC", True),
    ("song11.wav", False), ("song21.wav", False), ("song1.txt", False),
])
def test_audio_file_number_rule(tmp_path, name, matches):
    (tmp_path / name).write_bytes(b"")
    if matches:
        assert find_numbered_file(tmp_path, 1, what="audio for song1").name == name
    else:
        with pytest.raises(DataFormatError, match=r"no audio for song1 .*the number 1\)"):
            find_numbered_file(tmp_path, 1, what="audio for song1")


# --- NMED-T -------------------------------------------------------------------------------------------

def make_nmedt(root: Path, fmt: str, eeg: dict[int, np.ndarray]) -> tuple[Path, Path]:
    """Write songs 21 and 22 in NMED-T's layout; song 22's audio is stereo 44.1 kHz with a free-form name."""
    for n in (21, 22):
        write_mat(root / "eeg" / f"song{n}_Imputed.mat",
                  {f"data{n}": eeg[n], "fs": 125.0, f"subs{n}": ["S01", "S02"]}, fmt)
    write_audio(root / "audio" / "song21.wav")
    write_audio(root / "audio" / "22 Second Song.flac", sr=44100, gains=(0.5, 0.3))
    return root / "eeg", root / "audio"


def rewrite21(root: Path, fmt: str, eeg: dict[int, np.ndarray], **changes) -> None:
    """Rewrite song 21's MAT file with some variables replaced (or removed, when given None)."""
    contents = {"data21": eeg[21], "fs": 125.0, "subs21": ["S01", "S02"]} | changes
    write_mat(root / "eeg" / "song21_Imputed.mat", {k: v for k, v in contents.items() if v is not None}, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_nmedt(tmp_path, eeg, fmt):
    ds = load_nmedt(*make_nmedt(tmp_path, fmt, eeg), songs=[21, "song22"])
    assert (ds.name, ds.simulated, ds.sr) == ("nmedt", False, SR)
    assert [(r.song, r.participant) for r in ds.recordings] == [
        ("song21", "S01"), ("song21", "S02"), ("song22", "S01"), ("song22", "S02")]
    for r, (n, i) in zip(ds.recordings, [(21, 0), (21, 1), (22, 0), (22, 1)]):
        assert r.eeg.dtype == np.float32 and r.eeg.flags.c_contiguous and r.fs == 125.0
        assert np.array_equal(r.eeg, eeg[n][:, :, i].astype(np.float32))
    assert sorted(ds.audio) == ["song21", "song22"]
    assert all(y.dtype == np.float32 and y.shape == (SR,) for y in ds.audio.values())


def test_nmedt_same_from_both_formats(tmp_path, eeg):
    a, b = (load_nmedt(*make_nmedt(tmp_path / fmt, fmt, eeg), songs=[21, 22]) for fmt in FORMATS)
    assert all(np.array_equal(x.eeg, y.eeg) and x.participant == y.participant
               for x, y in zip(a.recordings, b.recordings, strict=True))


@pytest.mark.parametrize("fmt", FORMATS)
def test_nmedt_numeric_participant_ids(tmp_path, eeg, fmt):
    eeg_dir, audio_dir = make_nmedt(tmp_path, fmt, eeg)
    rewrite21(tmp_path, fmt, eeg, subs21=np.array([[3.0, 7.0]]))
    assert load_nmedt(eeg_dir, audio_dir, songs=[21]).participants == ["3", "7"]


NMEDT_MAT_CASES = {  # id: (changes to song 21's file, message)
    "missing key": ({"data21": None, "data99": np.zeros((2, 2))},
                    r"song21_Imputed\.mat: no variable 'data21'; the file has: data99, fs, subs21"),
    "wrong fs": ({"fs": 250.0}, r"song21_Imputed\.mat: sampling rate 'fs' = 250 Hz, expected 125 Hz"),
    "fs not a number": ({"fs": "fast"}, r"song21_Imputed\.mat: variable 'fs' is a str, expected one sampling rate"),
    "wrong channels": ({"data21": np.zeros((124, N_SAMP, N_PART))},
                       r"song21_Imputed\.mat: variable 'data21' has 124 channels"),
    "four dimensions": ({"data21": np.zeros((N_CH, N_SAMP, N_PART, 2))},
                        r"song21_Imputed\.mat: variable 'data21' has shape \(125, 250, 2, 2\), expected 3 dim"),
    "data not numeric": ({"data21": "hello"}, r"song21_Imputed\.mat: variable 'data21' is a str, expected a numeric"),
    "ids count": ({"subs21": ["a", "b", "c"]},
                  r"song21_Imputed\.mat: the EEG holds 2 participants but 'subs21' lists 3"),
    "ids repeated": ({"subs21": ["a", "a"]}, r"song21_Imputed\.mat: 'subs21' repeats participant ids"),
    "NaN samples": ({"data21": np.full((N_CH, N_SAMP, N_PART), np.nan)},
                    r"song21_Imputed\.mat: participant S01 has 31250 non-finite EEG samples"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("changes, match", NMEDT_MAT_CASES.values(), ids=NMEDT_MAT_CASES.keys())
def test_nmedt_bad_mat_contents(tmp_path, eeg, fmt, changes, match):
    eeg_dir, audio_dir = make_nmedt(tmp_path, fmt, eeg)
    rewrite21(tmp_path, fmt, eeg, **changes)
    with pytest.raises(DataFormatError, match=match) as info:
        load_nmedt(eeg_dir, audio_dir, songs=[21, 22])
    assert "\n" not in str(info.value)


NMEDT_FILE_CASES = {  # id: (damage done to the tree, message)
    "truncated": (lambda r: truncate(r / "eeg/song21_Imputed.mat"),
                  r"song21_Imputed\.mat: truncated or corrupt MATLAB v(5|7\.3)"),
    "not a MAT file": (lambda r: (r / "eeg/song21_Imputed.mat").write_text("eeg,data\n1,2\n"),
                       r"song21_Imputed\.mat: not a MAT file \(no MATLAB header"),
    "empty": (lambda r: (r / "eeg/song21_Imputed.mat").write_bytes(b""), r"song21_Imputed\.mat: file is empty"),
    "EEG file missing": (lambda r: (r / "eeg/song22_Imputed.mat").unlink(),
                         r"song22_Imputed\.mat: file not found \(NMED-T needs"),
    "audio missing": (lambda r: (r / "audio/22 Second Song.flac").unlink(),
                      r"audio: no audio for song22 \(a .* file whose name contains the number 22\)"),
    "audio ambiguous": (lambda r: write_audio(r / "audio/song22.wav"),
                        r"audio: several files could be the audio for song22: 22 Second Song\.flac, song22\.wav"),
    "audio unreadable": (lambda r: (r / "audio/song21.wav").write_bytes(b"RIFF nonsense"),
                         r"song21\.wav: cannot read audio"),
    "EEG folder missing": (lambda r: (r / "eeg").rename(r / "elsewhere"), r"eeg: NMED-T EEG folder not found"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage, match", NMEDT_FILE_CASES.values(), ids=NMEDT_FILE_CASES.keys())
def test_nmedt_bad_files(tmp_path, eeg, fmt, damage, match):
    eeg_dir, audio_dir = make_nmedt(tmp_path, fmt, eeg)
    damage(tmp_path)
    with pytest.raises(DataFormatError, match=match) as info:
        load_nmedt(eeg_dir, audio_dir, songs=[21, 22])
    assert "\n" not in str(info.value)


def test_nmedt_defaults_to_all_ten_songs(tmp_path, eeg):
    eeg_dir, audio_dir = make_nmedt(tmp_path, "v5", eeg)
    with pytest.raises(DataFormatError, match=r"song23_Imputed\.mat: file not found .*songs="):
        load_nmedt(eeg_dir, audio_dir)


@pytest.mark.parametrize("songs", [[5], ["song31"], ["abc"], []])
def test_nmedt_rejects_unknown_songs(tmp_path, eeg, songs):
    eeg_dir, audio_dir = make_nmedt(tmp_path, "v5", eeg)
    with pytest.raises(ParameterError, match=r"songs=.* must be NMED-T songs 21-30|must be a song number"):
        load_nmedt(eeg_dir, audio_dir, songs=songs)


# --- folder ("bring your own") ----------------------------------------------------------------------

CSV_LINES = [
    "eeg_file,participant,song,audio_file,fs,key",
    "eeg/p01_s1.npy,p01,s1,audio/s1.wav,125,",
    "eeg/p02_s1.mat,p02,s1,audio/s1.wav,250,eeg",
    "eeg/p01_s2.mat,p01,s2,audio/s2.wav,125,eeg",
]
WHOLE = FolderOptions(length_s=None)  # these files are seconds long: read whole, as the load stage then checks


def make_folder(root: Path, eeg: dict[int, np.ndarray], lines: list[str] = CSV_LINES) -> Path:
    """A folder with .npy and .mat (v5 at 250 Hz, v7.3 at 125 Hz) EEG, two songs' audio and the CSV."""
    (root / "eeg").mkdir(parents=True)
    np.save(root / "eeg/p01_s1.npy", eeg[1][:, :, 0])
    write_mat(root / "eeg/p02_s1.mat", {"eeg": np.concatenate([eeg[1][:, :, 1]] * 2, axis=1)}, "v5")
    write_mat(root / "eeg/p01_s2.mat", {"eeg": eeg[2][:, :, 0]}, "v73")
    write_audio(root / "audio/s1.wav")
    write_audio(root / "audio/s2.wav", sr=44100, gains=(0.5, 0.5))
    write_csv(root, lines)
    return root


def write_csv(root: Path, lines: list[str]) -> None:
    """Write recordings.csv from its lines."""
    (root / "recordings.csv").write_text("\n".join(lines) + "\n")


def with_line(index: int, line: str) -> list[str]:
    """CSV_LINES with one line replaced."""
    return [line if i == index else old for i, old in enumerate(CSV_LINES)]


def test_load_folder(tmp_path, eeg):
    ds = load_folder(make_folder(tmp_path / "mylab", eeg), options=WHOLE)
    assert (ds.name, ds.simulated) == ("folder:mylab", False)
    assert [(r.participant, r.song) for r in ds.recordings] == [("p01", "s1"), ("p02", "s1"), ("p01", "s2")]
    assert all(r.eeg.shape == (N_CH, N_SAMP) and r.eeg.dtype == np.float32 and r.fs == 125.0 for r in ds.recordings)
    assert np.allclose(ds.recordings[0].eeg, _demeaned(eeg[1][:, :, 0]), atol=1e-6)
    resampled = resample_poly(_demeaned(np.concatenate([eeg[1][:, :, 1]] * 2, axis=1)), 1, 2, axis=1)
    assert np.allclose(ds.recordings[1].eeg, resampled, atol=1e-5)
    assert np.allclose(ds.recordings[2].eeg, _demeaned(eeg[2][:, :, 0]), atol=1e-6)
    assert ds.meta["eeg_fs"] == {"p01/s1": 125.0, "p02/s1": 250.0, "p01/s2": 125.0}
    assert sorted(ds.audio) == ["s1", "s2"] and all(y.shape == (SR,) for y in ds.audio.values())


def _demeaned(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=1, keepdims=True)


def _save(name: str, array: np.ndarray):
    return lambda r: np.save(r / "eeg" / name, array)


FOLDER_CASES = {  # id: (damage done to the folder, message)
    "no CSV": (lambda r: (r / "recordings.csv").unlink(), r"recordings\.csv: not found"),
    "empty CSV": (lambda r: (r / "recordings.csv").write_text(""), r"recordings\.csv: empty file"),
    "header only": (lambda r: write_csv(r, CSV_LINES[:1]), r"recordings\.csv: no recordings listed"),
    "missing column": (lambda r: write_csv(r, ["eeg_file,participant,song", "eeg/p01_s1.npy,p01,s1"]),
                       r"recordings\.csv: missing column\(s\) audio_file; the header is"),
    "misspelt column": (lambda r: write_csv(r, with_line(0, "eeg_file,partcipant,song,audio_file")),
                        r"recordings\.csv: missing column\(s\) participant; unknown column\(s\) partcipant"),
    "extra value": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/s1.wav,,,oops")),
                    r"recordings\.csv, line 2: more values than columns"),
    "empty participant": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,,s1,audio/s1.wav,,")),
                          r"recordings\.csv, line 2: empty 'participant'"),
    "EEG file missing": (lambda r: write_csv(r, with_line(1, "eeg/nope.npy,p01,s1,audio/s1.wav,,")),
                         r"recordings\.csv, line 2: EEG file .*nope\.npy not found"),
    "EEG file type": (lambda r: ((r / "eeg/p01.txt").write_text("1"),
                                 write_csv(r, with_line(1, "eeg/p01.txt,p01,s1,audio/s1.wav,,"))),
                      r"recordings\.csv, line 2: EEG file .*p01\.txt has unsupported type '\.txt'"),
    "audio missing": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/gone.wav,,")),
                      r"recordings\.csv, line 2: audio file .*gone\.wav not found"),
    "fs blank for an array": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/s1.wav,,")),
                              r"line 2: fs is blank, and p01_s1\.npy does not say its sampling rate"),
    "fs not a number": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/s1.wav,fast,")),
                        r"recordings\.csv, line 2: fs='fast' is not a number"),
    "fs negative": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/s1.wav,-5,")),
                    r"recordings\.csv, line 2: fs='-5' must be a positive"),
    "fs too low": (lambda r: write_csv(r, with_line(1, "eeg/p01_s1.npy,p01,s1,audio/s1.wav,100,")),
                   r"recordings\.csv, line 2: fs=100 Hz is below 125 Hz"),
    "repeated pair": (lambda r: write_csv(r, with_line(2, "eeg/p02_s1.mat,p01,s1,audio/s1.wav,250,eeg")),
                      r"recordings\.csv, line 3: participant 'p01' with song 's1' is already listed \(.*line 2\)"),
    "two audio files": (lambda r: write_csv(r, with_line(2, "eeg/p02_s1.mat,p02,s1,audio/s2.wav,250,eeg")),
                        r"recordings\.csv, line 3: song 's1' has audio_file .*s2\.wav but .*line 2 gave"),
    "MAT without key": (lambda r: write_csv(r, with_line(2, "eeg/p02_s1.mat,p02,s1,audio/s1.wav,250,")),
                        r"line 3: .*p02_s1\.mat is a MAT file; name its EEG variable in a 'key' column "
                        r"\(the file has: eeg\)"),
    "MAT wrong key": (lambda r: write_csv(r, with_line(2, "eeg/p02_s1.mat,p02,s1,audio/s1.wav,250,egg")),
                      r"p02_s1\.mat: no variable 'egg'; the file has: eeg"),
    "3-D array": (_save("p01_s1.npy", np.zeros((N_CH, N_SAMP, 1))),
                  r"p01_s1\.npy: EEG array has shape \(125, 250, 1\), expected 2 dimensions"),
    "transposed": (_save("p01_s1.npy", np.zeros((N_SAMP, N_CH))),
                   r"p01_s1\.npy: EEG array has shape \(250, 125\), more channels than samples"),
    "NaN samples": (_save("p01_s1.npy", np.full((N_CH, N_SAMP), np.nan)), r"p01_s1\.npy: EEG contains NaN"),
    "not numbers": (_save("p01_s1.npy", np.full((N_CH, N_SAMP), "x")), r"p01_s1\.npy: EEG array has dtype <U1"),
    "garbage npy": (lambda r: (r / "eeg/p01_s1.npy").write_bytes(b"\x93NUMPY garbage"),
                    r"p01_s1\.npy: not a readable \.npy array"),
    "channels differ": (_save("p01_s1.npy", np.zeros((64, N_SAMP))),
                        r"line 3: .*p02_s1\.mat has 125 channels but .*p01_s1\.npy has 64"),
    "MAT truncated": (lambda r: truncate(r / "eeg/p01_s2.mat"),
                      r"p01_s2\.mat: truncated or corrupt MATLAB v7\.3"),
}


@pytest.mark.parametrize("damage, match", FOLDER_CASES.values(), ids=FOLDER_CASES.keys())
def test_folder_bad_files(tmp_path, eeg, damage, match):
    folder = make_folder(tmp_path, eeg)
    damage(folder)
    with pytest.raises(DataFormatError, match=match) as info:
        load_folder(folder, options=WHOLE)
    assert "\n" not in str(info.value)


def test_folder_must_exist(tmp_path):
    with pytest.raises(DataFormatError, match=r"nowhere: data folder not found"):
        load_folder(tmp_path / "nowhere")
