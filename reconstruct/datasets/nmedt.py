"""NMED-T (Losorelli et al. 2017): 20 participants x 10 songs, preprocessed EEG at 125 Hz.

Files: ``song21_Imputed.mat`` … ``song30_Imputed.mat``, each holding ``dataNN`` (125 channels x samples
x 20 participants), ``fs`` (125) and ``subsNN`` (a 1 x 20 cell of participant ids), NN being the song
number. The audio is not distributed with the EEG: each song's file is found by its number, or named,
and can be aligned by a per-song onset offset (default 0 s: no public offsets are known for NMED-T).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tqdm import tqdm

from reconstruct.datasets.common import format_key, load_song_audio, recordings_from_mat, require_dir, song_number
from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.recording import Dataset

NMEDT_SONGS = tuple(range(21, 31))
FILE_PATTERN, DATA_KEY, FS_KEY, PARTICIPANTS_KEY = "song{n}_Imputed.mat", "data{n}", "fs", "subs{n}"


def load_nmedt(eeg_dir: str | Path, audio_dir: str | Path, *, songs: Iterable[int | str] | None = None,
               file_pattern: str = FILE_PATTERN, data_key: str = DATA_KEY, fs_key: str | None = FS_KEY,
               participants_key: str | None = PARTICIPANTS_KEY,
               axis_order: str = "channels,samples,participants",
               audio_files: Mapping[int | str, str | Path] | None = None,
               audio_offsets: Mapping[int | str, float] | None = None,
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
    file_pattern, data_key, fs_key, participants_key : str
        Templates in ``{n}`` (the song number); defaults are the published names. `fs_key` None assumes
        125 Hz; `participants_key` None numbers the participants.
    axis_order : str
        How the EEG array is stored (published: ``"channels,samples,participants"``).
    audio_files : mapping, optional
        Song number -> audio file (relative to `audio_dir`) where the number rule does not fit.
    audio_offsets : mapping, optional
        Song number -> seconds to drop from the start of its audio (negative: silence to prepend);
        songs not listed get 0.
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
    offsets = _offsets(numbers, audio_offsets)
    names = {n: format_key(file_pattern, what="file_pattern", n=n) for n in numbers}
    eeg_paths = _eeg_paths(require_dir(eeg_dir, "NMED-T EEG folder"), names)
    audio_dir = require_dir(audio_dir, "NMED-T audio folder")
    files = {song_number(k): v for k, v in (audio_files or {}).items()}
    keys = {"data_key": data_key, "fs_key": fs_key, "participants_key": participants_key}
    recordings, audio, audio_paths = [], {}, {}
    for n in tqdm(numbers, desc="NMED-T", unit="song", disable=not progress):
        filled = {k: format_key(v, what=k, n=n) if v else None for k, v in keys.items()}
        recordings += recordings_from_mat(eeg_paths[n], song=f"song{n}", axis_order=axis_order, **filled)
        audio[f"song{n}"], audio_paths[n] = load_song_audio(audio_dir, n, audio_files=files, offset_s=offsets[n])
    meta = {"source": "NMED-T", "file_pattern": file_pattern, "axis_order": axis_order, **keys,
            "eeg_files": {f"song{n}": str(p) for n, p in eeg_paths.items()},
            "audio_files": {f"song{n}": str(p) for n, p in audio_paths.items()},
            "audio_offsets_s": {f"song{n}": offsets[n] for n in numbers}}
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


def _offsets(numbers: list[int], given: Mapping[int | str, float] | None) -> dict[int, float]:
    """Per-song audio onset offsets in seconds, 0 where none is given."""
    chosen = {song_number(k): float(v) for k, v in (given or {}).items()}
    unknown = sorted(set(chosen) - set(numbers))
    if unknown:
        raise ParameterError(f"audio_offsets names songs {unknown} that are not loaded ({numbers})")
    return {n: chosen.get(n, 0.0) for n in numbers}


def _eeg_paths(eeg_dir: Path, names: dict[int, str]) -> dict[int, Path]:
    """Check every EEG file is there before reading any (they are hundreds of MB each)."""
    paths = {n: eeg_dir / name for n, name in names.items()}
    for path in paths.values():
        if not path.is_file():
            raise DataFormatError(f"{path}: file not found (NMED-T needs song21_Imputed.mat … "
                                  f"song30_Imputed.mat; pass songs=[...] to load a subset)")
    return paths


__all__ = ["FILE_PATTERN", "NMEDT_SONGS", "load_nmedt"]
