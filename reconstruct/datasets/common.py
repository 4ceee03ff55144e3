"""The helpers every loader shares (public so a new loader can reuse them); re-exported by the package."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.matfile import get_array, get_fs, get_strings, read_mat, whos
from reconstruct.recording import AUDIO_SR, EEG_FS, Recording

N_CHANNELS = 125
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
AXES = ("channels", "samples", "participants")


def load_audio(path: str | Path, *, sr: int = AUDIO_SR) -> np.ndarray:
    """Read a stimulus as mono float32 [shape=(n,)] at `sr` Hz, the one form later stages expect.

    Stereo (or more) is mixed down by averaging the channels; another rate is resampled with
    :func:`librosa.resample`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: audio file not found")
    try:
        y, sr_in = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as exc:  # sf.LibsndfileError is a RuntimeError
        raise DataFormatError(f"{path}: cannot read audio ({' '.join(str(exc).split())})") from exc
    if y.shape[0] == 0:
        raise DataFormatError(f"{path}: audio file has no samples")
    y = y.mean(axis=1)
    if not np.isfinite(y).all():
        raise DataFormatError(f"{path}: audio contains non-finite samples")
    if sr_in != sr:
        import librosa  # imported here: slow to import, and only needed when rates differ

        y = librosa.resample(y, orig_sr=sr_in, target_sr=sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def find_numbered_file(directory: str | Path, number: int, *, what: str,
                       suffixes: Sequence[str] = AUDIO_SUFFIXES, exclude: Sequence[str] = ()) -> Path:
    """Find the one file in `directory` whose name carries `number`, so songs pair with their files.

    The rule: the file's suffix is one of `suffixes` (any case), its name is not in `exclude`, and
    its stem contains `number` as a whole number, optionally zero-padded: for 1, ``song1.wav``,
    ``01 Tum Hi Ho.mp3`` and ``stim_001.flac`` match, ``song11.wav`` and ``song21.wav`` do not.
    No match or several matches is an error naming `what` and the candidates.
    """
    directory = Path(directory)
    pattern = re.compile(rf"(?<!\d)0*{int(number)}(?!\d)")
    allowed = {s.lower() for s in suffixes}
    candidates = sorted(p for p in directory.iterdir()
                        if p.is_file() and p.suffix.lower() in allowed and p.name not in exclude)
    matches = [p for p in candidates if pattern.search(p.stem)]
    kinds = "/".join(sorted(allowed))
    if not matches:
        seen = ", ".join(p.name for p in candidates) or "none"
        raise DataFormatError(f"{directory}: no {what} (a {kinds} file whose name contains the number "
                              f"{number}); {kinds} files there: {seen}")
    if len(matches) > 1:
        raise DataFormatError(f"{directory}: several files could be the {what}: "
                              f"{', '.join(p.name for p in matches)}; keep one")
    return matches[0]


def load_song_audio(audio_dir: Path, number: int, *, audio_files: Mapping[int, str | Path] | None = None,
                    offset_s: float = 0.0, sr: int = AUDIO_SR) -> tuple[np.ndarray, Path]:
    """Find and read song `number`'s audio, aligned so sample 0 is where its EEG starts.

    The file is ``audio_files[number]`` (relative to `audio_dir`, or absolute) when given, else the
    one file in `audio_dir` whose name carries the number (:func:`find_numbered_file`). A positive
    `offset_s` drops that many seconds from the start (the EEG begins that far into the file); a
    negative one prepends that much silence (the EEG begins before the audio).
    """
    chosen = {song_number(k): v for k, v in (audio_files or {}).items()}
    if number in chosen:
        path = audio_dir / chosen[number]
        if not path.is_file():
            raise DataFormatError(f"{path}: audio for song{number} not found")
    else:
        path = find_numbered_file(audio_dir, number, what=f"audio for song{number}")
    y = load_audio(path, sr=sr)
    shift = int(round(abs(offset_s) * sr))
    if offset_s < 0:
        return np.concatenate([np.zeros(shift, dtype=np.float32), y]), path
    if shift >= len(y):
        raise DataFormatError(f"{path}: audio onset offset {offset_s:g} s for song{number} is not shorter "
                              f"than the audio ({len(y) / sr:.2f} s)")
    return np.ascontiguousarray(y[shift:]), path


def format_key(template: str, *, what: str, **fields: object) -> str:
    """Fill a file-name or variable-name template such as ``data{n}_{p}``, refusing unknown fields."""
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        names = ", ".join("{" + k + "}" for k in fields)
        raise ParameterError(f"{what}={template!r} is not a valid template ({exc!s}); "
                             f"it may use {names}") from None


def recordings_from_mat(path: str | Path, *, song: str, data_key: str, fs_key: str | None,
                        participants_key: str | None,
                        axis_order: str = "channels,samples,participants",
                        n_channels: int = N_CHANNELS, presentation: str = "") -> list[Recording]:
    """Split one song's MAT file (channels x samples x participants) into one Recording per participant.

    `fs_key` None means the file stores no rate and 125 Hz is assumed; `participants_key` None
    names participants ``<song>_p01``, ``<song>_p02`` … in file order. A 2-D array is read as one
    participant (MATLAB drops a trailing singleton dimension, and so does the reader).
    """
    path = Path(path)
    order = parse_axis_order(axis_order)
    contents = read_mat(path, keys=[k for k in (data_key, fs_key, participants_key) if k])
    try:
        data = _eeg_block(get_array(contents, data_key, path), order, path, data_key)
        if fs_key is not None:
            get_fs(contents, fs_key, path, expected=EEG_FS)
        if data.shape[0] != n_channels:
            raise DataFormatError(f"{path}: variable '{data_key}' has {data.shape[0]} channels (shape "
                                  f"{data.shape} as {','.join(AXES)}), expected {n_channels}")
        ids = _participant_ids(contents, participants_key, path, song=song, n=data.shape[2])
    except DataFormatError as exc:  # a wrong shape or rate often means a wrong key: show what is there
        raise DataFormatError(f"{exc}; the file has: {variable_listing(path)}") from exc
    return [_recording(data[:, :, i], path, song=song, participant=pid, presentation=presentation)
            for i, pid in enumerate(ids)]


def variable_listing(path: str | Path) -> str:
    """The file's variables as ``name RxCxP class``, for messages that must say what a file holds."""
    return ", ".join(f"{v.name} {'x'.join(map(str, v.shape))} {v.mclass}" for v in whos(path)) or "no variables"


def parse_axis_order(axis_order: str) -> tuple[int, int, int]:
    """Turn e.g. ``"participants,channels,samples"`` into the transpose that gives channels, samples, participants."""
    names = [a.strip() for a in axis_order.split(",")]
    if sorted(names) != sorted(AXES):
        raise ParameterError(f"axis_order={axis_order!r} must name {', '.join(AXES)} once each, comma-separated")
    return tuple(names.index(a) for a in AXES)  # type: ignore[return-value]


def song_number(song: int | str) -> int:
    """Accept 21, "21" or "song21" for a song, so callers can use whichever they have at hand."""
    text = str(song).strip().lower().removeprefix("song")
    if not text.isdigit():
        raise ParameterError(f"song={song!r} must be a song number like 21 or an id like 'song21'")
    return int(text)


def require_dir(path: str | Path, what: str) -> Path:
    """Return `path` as a Path, failing with a message naming `what` when it is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise DataFormatError(f"{path}: {what} not found (not a folder)")
    return path


def _eeg_block(data: np.ndarray, order: tuple[int, int, int], path: Path, key: str) -> np.ndarray:
    """Bring a stored EEG block into (channels, samples, participants) order."""
    if data.ndim == 2:  # one participant: its singleton axis was squeezed away
        data = np.expand_dims(data, axis=order[2])
    if data.ndim != 3:
        raise DataFormatError(f"{path}: variable '{key}' has shape {data.shape}, expected 3 dimensions "
                              f"(channels, samples, participants in some order)")
    return data.transpose(order)


def _participant_ids(contents: dict, key: str | None, path: Path, *, song: str, n: int) -> list[str]:
    """Read (or make up, when the file has none) one unique id per participant."""
    if key is None:
        return [f"{song}_p{i + 1:02d}" for i in range(n)]
    ids = get_strings(contents, key, path)
    if len(ids) != n:
        raise DataFormatError(f"{path}: the EEG holds {n} participants but '{key}' lists {len(ids)} ids")
    if len(set(ids)) != len(ids):
        raise DataFormatError(f"{path}: '{key}' repeats participant ids: {ids}")
    return ids


def _recording(eeg: np.ndarray, path: Path, *, song: str, participant: str, presentation: str = "") -> Recording:
    """Make one float32, C-ordered Recording, refusing NaN or infinite samples."""
    eeg = np.ascontiguousarray(eeg, dtype=np.float32)
    bad = int(eeg.size - np.isfinite(eeg).sum())
    if bad:
        raise DataFormatError(f"{path}: participant {participant} has {bad} non-finite EEG samples")
    return Recording(eeg=eeg, fs=float(EEG_FS), participant=participant, song=song, presentation=presentation)
