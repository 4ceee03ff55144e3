"""The bring-your-own folder reads the formats labs record in through MNE-Python (EDF, BrainVision, EEGLAB,
FIF), each written here by MNE itself, with the song onset from a number or an annotation."""

from pathlib import Path

import mne
import numpy as np
import pytest
import soundfile as sf

from reconstruct.datasets import load_folder
from reconstruct.datasets.options import FolderOptions
from reconstruct.errors import DataFormatError

WHOLE = FolderOptions(length_s=None)  # these files are seconds long: read whole, as the load stage then checks

FS, N_CH, SECONDS, ONSET = 250.0, 4, 4.0, 1.0


def _raw() -> mne.io.RawArray:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((N_CH + 1, int(FS * SECONDS))) * 20e-6  # volts, as MNE keeps them
    info = mne.create_info([f"E{i}" for i in range(N_CH)] + ["STI"], FS, ["eeg"] * N_CH + ["stim"])
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([ONSET, 2.5], [0.0, 0.0], ["song_start", "other"]))
    return raw


WRITERS = {  # every channel written, the STI trigger too, as a recorder stores it (EDF/BrainVision/EEGLAB: untyped)
    "fif": lambda raw, path: raw.save(path.with_name(path.stem + "_raw.fif"), verbose="error"),
    "edf": lambda raw, path: mne.export.export_raw(path.with_suffix(".edf"), raw, verbose="error"),
    "vhdr": lambda raw, path: mne.export.export_raw(path.with_suffix(".vhdr"), raw, verbose="error"),
    "set": lambda raw, path: mne.export.export_raw(path.with_suffix(".set"), raw, verbose="error"),
}
NAMES = {"fif": "rec_raw.fif", "edf": "rec.edf", "vhdr": "rec.vhdr", "set": "rec.set"}


def _folder(root: Path, fmt: str, onset: str) -> Path:
    raw = _raw()
    (root / "eeg").mkdir(parents=True)
    WRITERS[fmt](raw, root / "eeg" / "rec")
    (root / "audio").mkdir()
    sf.write(root / "audio" / "s1.wav", 0.1 * np.sin(np.arange(22050) / 10), 22050)
    (root / "recordings.csv").write_text("eeg_file,participant,song,audio_file,onset\n"
                                         f"eeg/{NAMES[fmt]},p01,s1,audio/s1.wav,{onset}\n")
    return root


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("onset", ["song_start", "1.0"])
def test_mne_formats_load_from_the_song_onset(tmp_path, fmt, onset):
    ds = load_folder(_folder(tmp_path, fmt, onset), options=WHOLE)
    (rec,) = ds.recordings
    expected = _raw().get_data(picks="eeg", units="uV")[:, int(ONSET * FS):]
    expected -= expected.mean(axis=1, keepdims=True)  # demeaned before resampling
    assert rec.eeg.shape[0] == N_CH and rec.fs == 125.0  # EEG channels only (no stim), resampled to 125 Hz
    assert rec.eeg.shape[1] == pytest.approx(expected.shape[1] / 2, abs=1)
    from scipy.signal import resample_poly
    want = resample_poly(expected, 1, 2, axis=1)
    tol = 0.01 * np.abs(want).max() if fmt in ("edf", "vhdr") else 1e-3  # EDF/BrainVision store 16-bit samples
    np.testing.assert_allclose(rec.eeg, want, atol=tol)


@pytest.mark.parametrize("onset,match", [("nosuch", "not among"), ("-1", r"must be a number of seconds >= 0"),
                                         ('"12,5"', "write seconds with a dot"), ("5:30", "330, not 5:30"),
                                         ("30", r"past the end of rec_raw\.fif \(4\.00 s long\)")])
def test_a_bad_onset_is_one_line(tmp_path, onset, match):
    with pytest.raises(DataFormatError, match=match) as info:
        load_folder(_folder(tmp_path, "fif", onset), options=WHOLE)
    assert "\n" not in str(info.value)


def test_an_event_name_on_a_plain_array_is_refused(tmp_path):
    (tmp_path / "eeg").mkdir()
    np.save(tmp_path / "eeg" / "a.npy", np.zeros((4, 1000)))
    sf.write(tmp_path / "s1.wav", np.zeros(22050), 22050)
    (tmp_path / "recordings.csv").write_text("eeg_file,participant,song,audio_file,onset\n"
                                             "eeg/a.npy,p01,s1,s1.wav,song_start\n")
    with pytest.raises(DataFormatError, match="event names work only"):
        load_folder(tmp_path, options=WHOLE)
