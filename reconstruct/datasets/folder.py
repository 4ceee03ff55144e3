"""Bring your own data: a folder of EEG arrays and audio files, with a ``recordings.csv`` saying which is which.

``recordings.csv`` has a header row and one row per recording (one participant hearing one song)::

    eeg_file,participant,song,audio_file,fs,key
    eeg/p01_s1.npy,p01,song1,audio/song1.wav,,
    eeg/p02_s1.mat,p02,song1,audio/song1.wav,500,eeg

- ``eeg_file``: the EEG, relative to the folder: a ``.npy`` array or a ``.mat`` file (v5 or v7.3),
  shaped (channels, samples), or a file in a format labs record in, read with MNE-Python's ``mne.io``:
  EDF (``.edf``), BDF (``.bdf``), BrainVision (``.vhdr``), EEGLAB (``.set``) or FIF (``.fif``,
  ``.fif.gz``); from those only the EEG channels are kept, in microvolts, at the file's own rate.
  Every recording must have the same number of channels.
- ``participant``, ``song``: ids; a (participant, song) pair appears once.
- ``audio_file``: the stimulus, relative to the folder (WAV, FLAC, OGG, MP3, AIFF); all rows of one
  song name the same file. Read as mono (channels averaged) and resampled to 22 050 Hz if needed.
- ``fs`` (optional column, may be blank): the EEG sampling rate in Hz; blank means 125 Hz. A higher
  rate is resampled to 125 Hz with :func:`scipy.signal.resample_poly` (polyphase, anti-aliased); a
  lower one is refused, since upsampling cannot restore the EEG band up to 62.5 Hz the features use.
- ``key`` (optional column): the variable holding the EEG in a ``.mat`` file; required for those.
- ``onset`` (optional column): where the song starts in the EEG, in seconds; the EEG before it is cut.
  For an MNE-read file it may instead name an annotation (event) whose first occurrence marks the song
  onset, e.g. ``onset=song_start``; blank means the song starts with the recording.

Everything is checked before the EEG is read, and every problem is reported with the CSV line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from reconstruct.datasets import AUDIO_SUFFIXES, load_audio, require_dir
from reconstruct.errors import DataFormatError
from reconstruct.matfile import get_array, read_mat, whos
from reconstruct.recording import EEG_FS, Dataset, Recording

CSV_NAME = "recordings.csv"
REQUIRED_COLUMNS = ("eeg_file", "participant", "song", "audio_file")
OPTIONAL_COLUMNS = ("fs", "key", "onset")
MNE_SUFFIXES = (".edf", ".bdf", ".vhdr", ".set", ".fif", ".fif.gz")
EEG_SUFFIXES = (".npy", ".mat", *MNE_SUFFIXES)


@dataclass(frozen=True)
class _Row:
    """One validated line of recordings.csv; `where` names the file and line for messages."""

    where: str
    eeg_file: Path
    participant: str
    song: str
    audio_file: Path
    fs: float
    key: str
    onset: str = ""

    @property
    def mne_format(self) -> bool:
        """Whether MNE-Python reads this row's EEG file."""
        return _suffix(self.eeg_file) in MNE_SUFFIXES


def load_folder(path: str | Path, *, progress: bool = False) -> Dataset:
    """Load a folder laid out as described in this module, so any lab's own EEG can go through the pipeline.

    Returns
    -------
    Dataset
        ``name="folder:<folder name>"``, EEG float32 (channels, samples) at 125 Hz, audio mono float32
        at 22 050 Hz.

    Raises
    ------
    DataFormatError
        The CSV, an EEG file or an audio file is missing or malformed; the message names the file
        (and the CSV line).
    """
    folder = require_dir(path, "data folder")
    rows = _read_rows(folder, folder / CSV_NAME)
    _check_pairs_unique(rows)
    song_audio = _song_audio(rows)
    recordings = [_load_recording(row) for row in tqdm(rows, desc="EEG", unit="file", disable=not progress)]
    _check_channels_agree(rows, recordings)
    audio = {song: load_audio(file) for song, file in song_audio.items()}
    meta = {"source": "folder", "folder": str(folder), "csv": str(folder / CSV_NAME),
            "audio_files": {song: str(file) for song, file in song_audio.items()},
            "eeg_fs": {f"{r.participant}/{r.song}": r.fs for r in rows}}
    return Dataset(name=f"folder:{folder.resolve().name}", simulated=False, recordings=recordings,
                   audio=audio, meta=meta)


def _read_rows(folder: Path, csv_path: Path) -> list[_Row]:
    """Parse and check every line of recordings.csv before any EEG is read."""
    if not csv_path.is_file():
        raise DataFormatError(f"{csv_path}: not found; the folder needs a {CSV_NAME} with columns "
                              f"{','.join(REQUIRED_COLUMNS)}[,fs][,key]")
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        _check_header(csv_path, reader.fieldnames)
        rows = [_parse_row(folder, f"{csv_path}, line {reader.line_num}", raw) for raw in reader
                if any((v or "").strip() for v in raw.values() if isinstance(v, str))]
    if not rows:
        raise DataFormatError(f"{csv_path}: no recordings listed (only a header)")
    return rows


def _check_header(csv_path: Path, fieldnames: list[str] | None) -> None:
    """Require the four columns, allow the two optional ones, and refuse anything else (likely a typo)."""
    if not fieldnames:
        raise DataFormatError(f"{csv_path}: empty file; expected a header {','.join(REQUIRED_COLUMNS)}[,fs][,key]")
    names = [n.strip() for n in fieldnames]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [c for c in names if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        problems = [f"missing column(s) {', '.join(missing)}" if missing else "",
                    f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                    "repeated column(s)" if len(set(names)) != len(names) else ""]
        raise DataFormatError(f"{csv_path}: {'; '.join(p for p in problems if p)}; the header is "
                              f"{','.join(names)}, expected {','.join(REQUIRED_COLUMNS)}[,fs][,key]")


def _parse_row(folder: Path, where: str, raw: dict) -> _Row:
    """Turn one CSV line into a _Row, checking that its files exist and its fs is usable."""
    if None in raw:
        raise DataFormatError(f"{where}: more values than columns")
    values = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
    for column in REQUIRED_COLUMNS:
        if not values[column]:
            raise DataFormatError(f"{where}: empty '{column}'")
    eeg_file = _existing(folder / values["eeg_file"], where, "EEG file", EEG_SUFFIXES)
    audio_file = _existing(folder / values["audio_file"], where, "audio file", AUDIO_SUFFIXES)
    row = _Row(where=where, eeg_file=eeg_file, participant=values["participant"], song=values["song"],
               audio_file=audio_file, fs=_parse_fs(values.get("fs", ""), where), key=values.get("key", ""),
               onset=values.get("onset", ""))
    if row.onset and not row.mne_format:
        _onset_seconds(row)  # an event name needs annotations: only MNE-read files have them
    return row


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _onset_seconds(row: _Row) -> float:
    """The onset column as seconds (refusing an event name where there are no annotations)."""
    try:
        onset = float(row.onset)
    except ValueError:
        raise DataFormatError(f"{row.where}: onset={row.onset!r} is not a number of seconds (event names "
                              f"work only for EDF/BDF/BrainVision/EEGLAB/FIF files)") from None
    if not np.isfinite(onset) or onset < 0:
        raise DataFormatError(f"{row.where}: onset={row.onset!r} must be >= 0 seconds")
    return onset


def _existing(path: Path, where: str, what: str, suffixes: tuple[str, ...]) -> Path:
    """Return `path` if it is a file of a supported type, else say which and why."""
    if not path.is_file():
        raise DataFormatError(f"{where}: {what} {path} not found")
    if _suffix(path) not in suffixes:
        raise DataFormatError(f"{where}: {what} {path} has unsupported type '{path.suffix}' "
                              f"(use {', '.join(suffixes)})")
    return path


def _parse_fs(text: str, where: str) -> float:
    """Read the fs column: blank means 125 Hz; below 125 Hz is refused (see the module docstring)."""
    if not text:
        return float(EEG_FS)
    try:
        fs = float(text)
    except ValueError:
        raise DataFormatError(f"{where}: fs={text!r} is not a number of Hz") from None
    if not np.isfinite(fs) or fs <= 0:
        raise DataFormatError(f"{where}: fs={text!r} must be a positive number of Hz")
    if fs < EEG_FS:
        raise DataFormatError(f"{where}: fs={fs:g} Hz is below {EEG_FS} Hz; upsampling cannot restore "
                              f"the missing EEG band, so it is refused")
    return fs


def _check_pairs_unique(rows: list[_Row]) -> None:
    """Refuse a participant-song pair listed twice: it would leak between train and test."""
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        pair = (row.participant, row.song)
        if pair in seen:
            raise DataFormatError(f"{row.where}: participant {row.participant!r} with song {row.song!r} "
                                  f"is already listed ({seen[pair]})")
        seen[pair] = row.where


def _song_audio(rows: list[_Row]) -> dict[str, Path]:
    """Map each song to its one audio file, refusing a song given two different files."""
    chosen: dict[str, _Row] = {}
    for row in rows:
        first = chosen.setdefault(row.song, row)
        if first.audio_file.resolve() != row.audio_file.resolve():
            raise DataFormatError(f"{row.where}: song {row.song!r} has audio_file {row.audio_file} but "
                                  f"{first.where} gave {first.audio_file}")
    return {song: row.audio_file for song, row in chosen.items()}


def _load_recording(row: _Row) -> Recording:
    """Read one EEG file, cut it at the song onset, bring it to 125 Hz and wrap it as a Recording."""
    if row.mne_format:
        eeg, fs = _read_mne(row)
    else:
        eeg, fs = _read_eeg(row), row.fs
        if row.onset:
            eeg = eeg[:, int(round(_onset_seconds(row) * fs)):]
    if fs < EEG_FS:
        raise DataFormatError(f"{row.eeg_file}: sampled at {fs:g} Hz, below {EEG_FS} Hz; upsampling cannot "
                              "restore the missing EEG band, so it is refused")
    if fs != EEG_FS:
        ratio = (Fraction(EEG_FS) / Fraction(fs)).limit_denominator(10_000)
        eeg = resample_poly(eeg, ratio.numerator, ratio.denominator, axis=1)
    eeg = np.ascontiguousarray(eeg, dtype=np.float32)
    if not np.isfinite(eeg).all():
        raise DataFormatError(f"{row.eeg_file}: EEG contains NaN or infinite samples")
    return Recording(eeg=eeg, fs=float(EEG_FS), participant=row.participant, song=row.song)


def _read_mne(row: _Row) -> tuple[np.ndarray, float]:
    """EEG channels (µV) of an EDF/BDF/BrainVision/EEGLAB/FIF file from the song onset, and its rate."""
    import mne
    readers = {".edf": mne.io.read_raw_edf, ".bdf": mne.io.read_raw_bdf, ".vhdr": mne.io.read_raw_brainvision,
               ".set": mne.io.read_raw_eeglab, ".fif": mne.io.read_raw_fif, ".fif.gz": mne.io.read_raw_fif}
    try:
        raw = readers[_suffix(row.eeg_file)](row.eeg_file, preload=False, verbose="error")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same thing to the user: a bad file
        raise DataFormatError(f"{row.eeg_file}: MNE cannot read it ({exc.__class__.__name__}: "
                              f"{' '.join(str(exc).split())[:200]})") from None
    fs = float(raw.info["sfreq"])
    if row.fs != EEG_FS and abs(row.fs - fs) > 1e-6:
        raise DataFormatError(f"{row.where}: fs={row.fs:g} but {row.eeg_file} says {fs:g} Hz; leave fs blank "
                              "for files that carry their own rate")
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if not len(picks):
        raise DataFormatError(f"{row.eeg_file}: no EEG channels (types: "
                              f"{sorted(set(raw.get_channel_types()))})")
    start = 0
    if row.onset:
        start = int(round(_mne_onset(row, raw) * fs))
    return raw.get_data(picks=picks, start=start, units="uV"), fs


def _mne_onset(row: _Row, raw) -> float:
    """Seconds from the file's start to the song onset: a number, or the first annotation of that name."""
    try:
        return _onset_seconds(row)
    except DataFormatError:
        pass
    names = list(raw.annotations.description)
    # BrainVision prefixes the marker type ("Comment/song_start", "Stimulus/S  1"): match on either
    hits = [i for i, d in enumerate(names) if row.onset in (d, d.split("/", 1)[-1])]
    if not hits:
        have = ", ".join(sorted(set(names))[:10]) or "none"
        raise DataFormatError(f"{row.where}: onset event {row.onset!r} not among {row.eeg_file}'s annotations "
                              f"({have})")
    first = float(raw.annotations.onset[hits[0]])
    return first - (raw.first_time if raw.annotations.orig_time is not None else 0.0)


def _read_eeg(row: _Row) -> np.ndarray:
    """Load a .npy or .mat EEG array and check it is (channels, samples)."""
    path = row.eeg_file
    eeg = _read_npy(path) if path.suffix.lower() == ".npy" else _read_mat_eeg(row)
    if eeg.ndim != 2:
        raise DataFormatError(f"{path}: EEG array has shape {eeg.shape}, expected 2 dimensions (channels, samples)")
    if eeg.shape[0] >= eeg.shape[1]:
        raise DataFormatError(f"{path}: EEG array has shape {eeg.shape}, more channels than samples; "
                              f"store it as (channels, samples)")
    return eeg


def _read_npy(path: Path) -> np.ndarray:
    """Load a numeric .npy array without unpickling anything."""
    try:
        eeg = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: not a readable .npy array ({' '.join(str(exc).split())})") from exc
    if eeg.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: EEG array has dtype {eeg.dtype}, expected real numbers")
    return eeg


def _read_mat_eeg(row: _Row) -> np.ndarray:
    """Load the EEG variable named in the key column from a MAT file."""
    if not row.key:
        names = ", ".join(v.name for v in whos(row.eeg_file)) or "no variables"
        raise DataFormatError(f"{row.where}: {row.eeg_file} is a MAT file; name its EEG variable in a "
                              f"'key' column (the file has: {names})")
    contents = read_mat(row.eeg_file, keys=[row.key])
    return get_array(contents, row.key, row.eeg_file, ndim=2, layout="channels x samples")


def _check_channels_agree(rows: list[_Row], recordings: list[Recording]) -> None:
    """Refuse recordings with different channel counts: one model takes one input shape."""
    first = recordings[0].eeg.shape[0]
    for row, recording in zip(rows, recordings):
        if recording.eeg.shape[0] != first:
            raise DataFormatError(f"{row.where}: {row.eeg_file} has {recording.eeg.shape[0]} channels but "
                                  f"{rows[0].eeg_file} has {first}; all recordings need the same channels")
