"""One EEG file of a bring-your-own folder: its header (channels, types, bads, rate, length, markers) read
without the samples, then just the stretch and channels a recording uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reconstruct.datasets.folder_csv import Row, suffix
from reconstruct.errors import DataFormatError
from reconstruct.matfile import get_array, get_fs, read_mat, whos

FS_VARIABLE = "fs"  # a .mat file may carry its own rate under this name


@dataclass
class Header:
    """What a file says about itself; `named` is False for bare arrays (channels are ch1, ch2, … by position)."""

    names: list[str]
    types: list[str]
    bads: list[str]
    fs: float
    n_times: int
    events: list[tuple[str, float]] = field(default_factory=list)  # (marker, seconds from the file's start)
    named: bool = True
    raw: object = None  # the MNE Raw, opened without its samples

    @property
    def duration_s(self) -> float:
        """Length of the file in seconds."""
        return self.n_times / self.fs


def read_header(row: Row) -> Header:
    """Open a file's header only, so every CSV line is checked before any EEG is read."""
    if row.mne_format:
        return _mne_header(row)
    if suffix(row.eeg_file) == ".npy":
        shape = _npy(row.eeg_file, mmap=True).shape
        fs = row.fs
    else:
        shape, fs = _mat_header(row)
    _check_shape(row.eeg_file, shape)
    if fs is None:
        raise DataFormatError(f"{row.where}: fs is blank, and {row.eeg_file.name} does not say its sampling "
                              f"rate; give it in the fs column (Hz) — it is never guessed")
    return Header(names=[f"ch{i + 1}" for i in range(shape[0])], types=["eeg"] * shape[0], bads=[], fs=fs,
                  n_times=shape[1], named=False)


def _mne_header(row: Row) -> Header:
    import mne
    readers = {".edf": mne.io.read_raw_edf, ".bdf": mne.io.read_raw_bdf, ".vhdr": mne.io.read_raw_brainvision,
               ".set": mne.io.read_raw_eeglab, ".fif": mne.io.read_raw_fif, ".fif.gz": mne.io.read_raw_fif}
    kind = suffix(row.eeg_file)
    extra = {"infer_types": True} if kind in (".edf", ".bdf") else {}  # "EOG VEOG", "MISC Audio" typed labels
    try:
        raw = readers[kind](row.eeg_file, preload=False, verbose="error", **extra)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same thing to the user: a bad file
        raise DataFormatError(f"{row.eeg_file}: MNE cannot read it ({exc.__class__.__name__}: "
                              f"{' '.join(str(exc).split())[:200]})") from None
    fs = float(raw.info["sfreq"])
    if row.fs is not None and abs(row.fs - fs) > 1e-6:
        raise DataFormatError(f"{row.where}: fs={row.fs:g} but {row.eeg_file} says {fs:g} Hz; leave fs blank "
                              "for files that carry their own rate")
    shift = raw.first_time if raw.annotations.orig_time is not None else 0.0
    events = [(str(d), float(t) - shift) for d, t in zip(raw.annotations.description, raw.annotations.onset)]
    return Header(names=list(raw.ch_names), types=list(raw.get_channel_types()), bads=list(raw.info["bads"]),
                  fs=fs, n_times=int(raw.n_times), events=events, raw=raw)


def _mat_header(row: Row) -> tuple[tuple[int, ...], float | None]:
    """The EEG variable's shape and the file's own rate (a scalar `fs` variable), checked against the column."""
    listing = {v.name: v.shape for v in whos(row.eeg_file)}
    if not row.key:
        raise DataFormatError(f"{row.where}: {row.eeg_file} is a MAT file; name its EEG variable in a "
                              f"'key' column (the file has: {', '.join(listing) or 'no variables'})")
    if row.key not in listing:
        raise DataFormatError(f"{row.eeg_file}: no variable '{row.key}'; the file has: {', '.join(listing)}")
    fs = row.fs
    if FS_VARIABLE in listing and FS_VARIABLE != row.key:
        own = get_fs(read_mat(row.eeg_file, keys=[FS_VARIABLE]), FS_VARIABLE, row.eeg_file, expected=None)
        if fs is not None and abs(fs - own) > 1e-6:
            raise DataFormatError(f"{row.where}: fs={fs:g} but {row.eeg_file} says {FS_VARIABLE}={own:g} Hz")
        fs = own
    return listing[row.key], fs


def _check_shape(path: Path, shape: tuple[int, ...]) -> None:
    if len(shape) != 2:
        raise DataFormatError(f"{path}: EEG array has shape {tuple(shape)}, expected 2 dimensions (channels, samples)")
    if shape[0] >= shape[1]:
        raise DataFormatError(f"{path}: EEG array has shape {tuple(shape)}, more channels than samples; "
                              f"store it as (channels, samples)")


def read_stretch(row: Row, header: Header, names: Sequence[str], start: int, stop: int, *,
                 interpolate: Sequence[str] = ()) -> np.ndarray:
    """Samples [start, stop) of channels `names`, in that order (µV for MNE-read files, as stored for arrays)."""
    if header.raw is not None:
        return _mne_stretch(row, header, names, start, stop, interpolate)
    eeg = _npy(row.eeg_file, mmap=True) if suffix(row.eeg_file) == ".npy" else _mat_eeg(row)
    index = [header.names.index(n) for n in names]
    return np.asarray(eeg[index, start:stop], dtype=np.float64)


def _mne_stretch(row: Row, header: Header, names: Sequence[str], start: int, stop: int,
                 interpolate: Sequence[str]) -> np.ndarray:
    raw = header.raw
    if not interpolate:
        return raw.get_data(picks=list(names), start=start, stop=stop, units="uV")
    part = raw.copy().pick(list(names)).crop(start / header.fs, (stop - 1) / header.fs).load_data(verbose="error")
    part.set_channel_types({n: "eeg" for n in names}, verbose="error")
    part.info["bads"] = list(interpolate)
    try:
        if part.get_montage() is None:
            part.set_montage("standard_1005", on_missing="raise", match_case=False, verbose="error")
        part.interpolate_bads(reset_bads=True, verbose="error")
    except (ValueError, RuntimeError) as exc:
        raise DataFormatError(f"{row.where}: cannot interpolate bad channel(s) {', '.join(interpolate)} of "
                              f"{row.eeg_file.name} ({' '.join(str(exc).split())[:160]}); use --bads drop") from None
    return part.get_data(picks=list(names), units="uV")


def _npy(path: Path, *, mmap: bool = False) -> np.ndarray:
    """A numeric .npy array, never unpickling anything."""
    try:
        eeg = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: not a readable .npy array ({' '.join(str(exc).split())})") from exc
    if eeg.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: EEG array has dtype {eeg.dtype}, expected real numbers")
    return eeg


def _mat_eeg(row: Row) -> np.ndarray:
    contents = read_mat(row.eeg_file, keys=[row.key])
    return get_array(contents, row.key, row.eeg_file, ndim=2, layout="channels x samples")


__all__ = ["Header", "read_header", "read_stretch"]
