"""NMED-T (Losorelli et al. 2017): 20 participants x 10 songs, preprocessed EEG at 125 Hz.

Files: ``song21_Imputed.mat`` … ``song30_Imputed.mat``, each holding ``dataNN`` (125 channels x samples
x 20 participants), ``fs`` (125) and ``subsNN`` (participant ids), NN being the song number.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from reconstruct.datasets import find_numbered_file, load_audio, recordings_from_mat, require_dir, song_number
from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.recording import Dataset

NMEDT_SONGS = tuple(range(21, 31))


def load_nmedt(eeg_dir: str | Path, audio_dir: str | Path, *, songs: Iterable[int | str] | None = None,
               progress: bool = False) -> Dataset:
    """Load NMED-T so the pipeline can train on the data set the paper's Table 2 used.

    Parameters
    ----------
    eeg_dir : str or Path
        Folder holding ``songNN_Imputed.mat`` (MATLAB v5 or v7.3).
    audio_dir : str or Path
        Folder holding the stimuli. Song NN's audio is the one file there with an audio suffix
        (.wav, .flac, .ogg, .mp3, .aif, .aiff) whose name contains NN as a whole number
        (``song21.wav``, ``21 First Fires.flac``; not ``song210.wav``); none or several is an error.
    songs : iterable of int or str, optional
        A subset, as numbers (21) or ids ("song21"); default all ten, 21-30.
    progress : bool
        Show a progress bar over songs.

    Returns
    -------
    Dataset
        ``name="nmedt"``, one Recording per participant and song (song ids ``"song21"`` …,
        participant ids from ``subsNN``), audio mono float32 at 22 050 Hz.

    Raises
    ------
    DataFormatError
        A file is missing, unreadable, or has the wrong keys, shape or sampling rate.
    ParameterError
        `songs` names a song outside 21-30.
    """
    numbers = _song_numbers(songs)
    eeg_paths = _eeg_paths(require_dir(eeg_dir, "NMED-T EEG folder"), numbers)
    audio_dir = require_dir(audio_dir, "NMED-T audio folder")
    audio_paths = {n: find_numbered_file(audio_dir, n, what=f"audio for song{n}") for n in numbers}
    recordings, audio = [], {}
    for n in tqdm(numbers, desc="NMED-T", unit="song", disable=not progress):
        recordings += recordings_from_mat(eeg_paths[n], song=f"song{n}", data_key=f"data{n}",
                                          fs_key="fs", participants_key=f"subs{n}")
        audio[f"song{n}"] = load_audio(audio_paths[n])
    meta = {"source": "NMED-T", "eeg_files": {f"song{n}": str(p) for n, p in eeg_paths.items()},
            "audio_files": {f"song{n}": str(p) for n, p in audio_paths.items()}}
    return Dataset(name="nmedt", simulated=False, recordings=recordings, audio=audio, meta=meta)


def _song_numbers(songs: Iterable[int | str] | None) -> list[int]:
    """Resolve the requested songs to NMED-T numbers, in order, without repeats."""
    if songs is None:
        return list(NMEDT_SONGS)
    requested = [songs] if isinstance(songs, (str, int)) else list(songs)
    numbers = list(dict.fromkeys(song_number(s) for s in requested))
    if not numbers or any(n not in NMEDT_SONGS for n in numbers):
        raise ParameterError(f"songs={requested!r} must be NMED-T songs 21-30 (at least one)")
    return numbers


def _eeg_paths(eeg_dir: Path, numbers: list[int]) -> dict[int, Path]:
    """Check every EEG file is there before reading any (they are hundreds of MB each)."""
    paths = {n: eeg_dir / f"song{n}_Imputed.mat" for n in numbers}
    for path in paths.values():
        if not path.is_file():
            raise DataFormatError(f"{path}: file not found (NMED-T needs song21_Imputed.mat … "
                                  f"song30_Imputed.mat; pass songs=[...] to load a subset)")
    return paths


__all__ = ["NMEDT_SONGS", "load_nmedt"]
