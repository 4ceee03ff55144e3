"""NMED-H (Kaneshiro et al. 2016): 4 Hindi pop songs, 12 participants per song, 125 channels at 125 Hz.

The loader reads the preprocessed EEG aggregated by stimulus (one MAT file per song, e.g. extracted from
``CleanEEG_aggregatedByStimulus_orig.zip``). The variable names and axis order inside those files are
not documented where this code was written, so every default below is a GUESS to be confirmed against
the real files: the key names, the axis order, the song numbers and the file-name rule are all options,
and a missing key is reported with the list of keys the file does have. ``stimAssignment.mat`` and
``behaveStruct_a.mat`` are not interpreted; when present beside the EEG their variable names are
recorded in ``Dataset.meta`` so they can be inspected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tqdm import tqdm

from reconstruct.datasets import (
    AUDIO_SUFFIXES,
    find_numbered_file,
    load_audio,
    recordings_from_mat,
    require_dir,
    song_number,
)
from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.matfile import whos
from reconstruct.recording import Dataset

NMEDH_SONGS = (1, 2, 3, 4)
METADATA_FILES = ("stimAssignment.mat", "behaveStruct_a.mat")
_NUMERIC = {"double", "single", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def load_nmedh(eeg_dir: str | Path, audio_dir: str | Path, *,
               songs: Iterable[int | str] = NMEDH_SONGS,
               data_key: str | None = None,
               fs_key: str | None = "fs",
               participants_key: str | None = None,
               axis_order: str = "channels,samples,participants",
               eeg_files: Mapping[int | str, str | Path] | None = None,
               audio_files: Mapping[int | str, str | Path] | None = None,
               progress: bool = False) -> Dataset:
    """Load NMED-H so the pipeline can reproduce the paper's listening study (its 4 songs x 12 participants).

    All defaults are guesses to be confirmed against the real files (see the module docstring).
    Key names may contain ``{n}``, replaced by the song number (e.g. ``data_key="data{n}"``).

    Parameters
    ----------
    eeg_dir : str or Path
        Folder with one MAT file (v5 or v7.3) per song. Song n's file is the one ``.mat`` file whose
        name contains n as a whole number (``song1_Clean.mat``; not ``song11.mat``), ignoring
        ``stimAssignment.mat`` and ``behaveStruct_a.mat``; override with `eeg_files`.
    audio_dir : str or Path
        Folder with the stimuli, matched to songs by the same number rule; override with `audio_files`.
    songs : iterable of int or str
        Song numbers (or ids like ``"song1"``); song ids become ``"song<n>"``. Guess: 1-4.
    data_key : str, optional
        The EEG variable. Guess: None, meaning the file's only 3-D numeric variable.
    fs_key : str, optional
        The sampling-rate variable, which must say 125 Hz. Guess: ``"fs"``; None assumes 125 Hz.
    participants_key : str, optional
        The participant-id variable. Guess: None, naming participants ``song1_p01`` … in file order.
    axis_order : str
        How the EEG array is stored, e.g. ``"participants,channels,samples"``.
        Guess: ``"channels,samples,participants"`` (as in NMED-T).
    eeg_files, audio_files : mapping, optional
        Song number -> file name (relative to its folder) where the number rule does not fit.
    progress : bool
        Show a progress bar over songs.

    Returns
    -------
    Dataset
        ``name="nmedh"``, one Recording per participant and song, audio mono float32 at 22 050 Hz.

    Raises
    ------
    DataFormatError
        A file is missing, unreadable, or has the wrong keys, shape or sampling rate.
    ParameterError
        A song or `axis_order` is malformed.
    """
    numbers = _song_numbers(songs)
    eeg_dir = require_dir(eeg_dir, "NMED-H EEG folder")
    audio_dir = require_dir(audio_dir, "NMED-H audio folder")
    eeg_paths = {n: _pick(eeg_dir, n, eeg_files, what=f"EEG file for song{n}", suffixes=(".mat",),
                          exclude=METADATA_FILES) for n in numbers}
    audio_paths = {n: _pick(audio_dir, n, audio_files, what=f"audio for song{n}") for n in numbers}
    recordings, audio = [], {}
    for n in tqdm(numbers, desc="NMED-H", unit="song", disable=not progress):
        key = data_key.format(n=n) if data_key else _only_3d_variable(eeg_paths[n])
        recordings += recordings_from_mat(
            eeg_paths[n], song=f"song{n}", data_key=key, axis_order=axis_order,
            fs_key=fs_key.format(n=n) if fs_key else None,
            participants_key=participants_key.format(n=n) if participants_key else None)
        audio[f"song{n}"] = load_audio(audio_paths[n])
    return Dataset(name="nmedh", simulated=False, recordings=recordings, audio=audio,
                   meta=_meta(eeg_dir, eeg_paths, audio_paths, axis_order=axis_order))


def _song_numbers(songs: Iterable[int | str]) -> list[int]:
    """Resolve the requested songs to numbers, in order, without repeats."""
    requested = [songs] if isinstance(songs, (str, int)) else list(songs)
    numbers = list(dict.fromkeys(song_number(s) for s in requested))
    if not numbers:
        raise ParameterError("songs=[] must name at least one song")
    return numbers


def _pick(directory: Path, n: int, overrides: Mapping[int | str, str | Path] | None, *, what: str,
          suffixes: tuple[str, ...] = AUDIO_SUFFIXES, exclude: tuple[str, ...] = ()) -> Path:
    """Use the caller's file for song n when given, else the number rule."""
    chosen = {song_number(k): v for k, v in (overrides or {}).items()}
    if n not in chosen:
        return find_numbered_file(directory, n, what=what, suffixes=suffixes, exclude=exclude)
    path = directory / chosen[n]
    if not path.is_file():
        raise DataFormatError(f"{path}: {what} not found")
    return path


def _only_3d_variable(path: Path) -> str:
    """Guess the EEG variable as the file's only 3-D numeric one, listing all variables when unsure."""
    variables = whos(path)
    found = [v.name for v in variables if len(v.shape) == 3 and v.mclass in _NUMERIC]
    if len(found) != 1:
        listing = ", ".join(f"{v.name} {v.mclass} {'x'.join(map(str, v.shape))}" for v in variables)
        raise DataFormatError(f"{path}: cannot tell which variable is the EEG ({len(found)} 3-D numeric "
                              f"variables); pass data_key=... The file has: {listing or 'no variables'}")
    return found[0]


def _meta(eeg_dir: Path, eeg_paths: dict[int, Path], audio_paths: dict[int, Path], *, axis_order: str) -> dict:
    """Record where everything came from, and what the undocumented metadata files contain."""
    present = [eeg_dir / name for name in METADATA_FILES if (eeg_dir / name).is_file()]
    return {"source": "NMED-H", "axis_order": axis_order,
            "eeg_files": {f"song{n}": str(p) for n, p in eeg_paths.items()},
            "audio_files": {f"song{n}": str(p) for n, p in audio_paths.items()},
            "metadata_files": {p.name: [v.name for v in whos(p)] for p in present}}


__all__ = ["METADATA_FILES", "NMEDH_SONGS", "load_nmedh"]
