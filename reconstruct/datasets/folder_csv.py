"""recordings.csv: its columns, one validated row per line, and onsets that can neither be guessed nor collide.

Every value is checked here, before any EEG is read, and every problem is one line naming the CSV line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reconstruct.datasets.common import AUDIO_SUFFIXES
from reconstruct.errors import DataFormatError
from reconstruct.recording import EEG_FS

CSV_NAME = "recordings.csv"
REQUIRED_COLUMNS = ("eeg_file", "participant", "song", "audio_file")
OPTIONAL_COLUMNS = ("fs", "key", "onset", "onset_occurrence", "audio_latency_ms")
MNE_SUFFIXES = (".edf", ".bdf", ".vhdr", ".set", ".fif", ".fif.gz")
ARRAY_SUFFIXES = (".npy", ".mat")
EEG_SUFFIXES = (*ARRAY_SUFFIXES, *MNE_SUFFIXES)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NUMBERISH = re.compile(r"[+-]?[\d\s.,:;']+")  # "12,5", "5:30": meant as a time, not a marker name


@dataclass(frozen=True)
class Onset:
    """Where a song starts in its file: `seconds`, or the `occurrence`-th (1-based, None: the only) `event`."""

    seconds: float = 0.0
    event: str = ""
    occurrence: int | None = None

    def describe(self) -> str:
        """``'song onset#2'`` or ``12.5 s``, for messages."""
        if not self.event:
            return f"{self.seconds:g} s"
        return repr(self.event + (f"#{self.occurrence}" if self.occurrence else ""))


@dataclass(frozen=True)
class Row:
    """One validated line of recordings.csv; `where` names the file and line for messages."""

    where: str
    line: int
    eeg_file: Path
    participant: str
    song: str
    audio_file: Path
    fs: float | None  # None: blank, so the file must carry its own rate
    key: str
    onset: Onset
    latency_s: float = 0.0

    @property
    def mne_format(self) -> bool:
        """Whether MNE-Python reads this row's EEG file."""
        return suffix(self.eeg_file) in MNE_SUFFIXES

    @property
    def label(self) -> str:
        """``participant/song``: the recording's key in dataset.json."""
        return f"{self.participant}/{self.song}"


def read_rows(folder: Path, csv_path: Path, audio_root: Path) -> list[Row]:
    """Parse and check every line of recordings.csv before any EEG is read."""
    if not csv_path.is_file():
        raise DataFormatError(f"{csv_path}: not found; the folder needs a {CSV_NAME} with columns "
                              f"{','.join(REQUIRED_COLUMNS)}[,fs][,key]")
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        _check_header(csv_path, reader.fieldnames)
        rows = [_parse_row(folder, audio_root, f"{csv_path}, line {reader.line_num}", reader.line_num, raw)
                for raw in reader if any((v or "").strip() for v in raw.values() if isinstance(v, str))]
    if not rows:
        raise DataFormatError(f"{csv_path}: no recordings listed (only a header)")
    return rows


def _check_header(csv_path: Path, fieldnames: list[str] | None) -> None:
    """Require the four columns, allow the optional ones, and refuse anything else (likely a typo)."""
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
                              f"{','.join(names)}, expected {','.join(REQUIRED_COLUMNS)} and optionally "
                              f"{','.join(OPTIONAL_COLUMNS)}")


def _parse_row(folder: Path, audio_root: Path, where: str, line: int, raw: dict) -> Row:
    """Turn one CSV line into a Row, checking that its files exist and its numbers are numbers."""
    if None in raw:
        raise DataFormatError(f"{where}: more values than columns")
    values = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
    for column in REQUIRED_COLUMNS:
        if not values[column]:
            raise DataFormatError(f"{where}: empty '{column}'")
    eeg_file = _existing(folder / values["eeg_file"], where, "EEG file", EEG_SUFFIXES)
    audio_file = _existing(audio_root / values["audio_file"], where, "audio file", AUDIO_SUFFIXES)
    mne_format = suffix(eeg_file) in MNE_SUFFIXES
    onset = parse_onset(values.get("onset", ""), values.get("onset_occurrence", ""), where, mne_format=mne_format)
    latency_ms = _number(values.get("audio_latency_ms", ""), where, "audio_latency_ms", "milliseconds")
    if onset.seconds + latency_ms / 1000 < 0:
        raise DataFormatError(f"{where}: onset {onset.describe()} plus audio_latency_ms={latency_ms:g} is before "
                              f"the recording starts")
    return Row(where=where, line=line, eeg_file=eeg_file, participant=values["participant"], song=values["song"],
               audio_file=audio_file, fs=_parse_fs(values.get("fs", ""), where), key=values.get("key", ""),
               onset=onset, latency_s=latency_ms / 1000)


def parse_onset(text: str, occurrence: str, where: str, *, mne_format: bool) -> Onset:
    """Read the onset (and onset_occurrence) columns: seconds >= 0, or a marker name, ``name#n`` for its n-th."""
    if not text:
        if occurrence:
            raise DataFormatError(f"{where}: onset_occurrence={occurrence!r} but no onset marker named")
        return Onset()
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        if not np.isfinite(seconds) or seconds < 0:
            raise DataFormatError(f"{where}: onset={text!r} must be a number of seconds >= 0")
        if occurrence:
            raise DataFormatError(f"{where}: onset_occurrence={occurrence!r} applies to a marker name, "
                                  f"not to onset={text!r} seconds")
        return Onset(seconds=seconds)
    if _NUMBERISH.fullmatch(text):
        raise DataFormatError(f"{where}: onset={text!r} is not a number of seconds: write seconds with a dot "
                              f"(12.5, not 12,5; 330, not 5:30)")
    if not mne_format:
        raise DataFormatError(f"{where}: onset={text!r} is not a number of seconds (event names work only for "
                              f"EDF/BDF/BrainVision/EEGLAB/FIF files)")
    event, n = text, None
    match = re.fullmatch(r"(.+?)\s*#\s*(\d+)", text)
    if match:
        event, n = match.group(1), int(match.group(2))
    if occurrence:
        if not occurrence.isdigit():
            raise DataFormatError(f"{where}: onset_occurrence={occurrence!r} must be a whole number (1 = first)")
        if n is not None and n != int(occurrence):
            raise DataFormatError(f"{where}: onset={text!r} and onset_occurrence={occurrence!r} disagree")
        n = int(occurrence)
    if n is not None and n < 1:
        raise DataFormatError(f"{where}: onset={text!r}: occurrences count from 1")
    return Onset(event=event, occurrence=n)


def _number(text: str, where: str, column: str, unit: str) -> float:
    """An optional finite number (blank = 0)."""
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(f"{where}: {column}={text!r} is not a number of {unit}") from None
    if not np.isfinite(value):
        raise DataFormatError(f"{where}: {column}={text!r} must be a finite number of {unit}")
    return value


def suffix(path: Path) -> str:
    """The file's type as the loaders name it (``.fif.gz`` counts as one)."""
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _existing(path: Path, where: str, what: str, suffixes: tuple[str, ...]) -> Path:
    """Return `path` if it is a file of a supported type, else say which and why."""
    if not path.is_file():
        raise DataFormatError(f"{where}: {what} {path} not found")
    if suffix(path) not in suffixes:
        raise DataFormatError(f"{where}: {what} {path} has unsupported type '{path.suffix}' "
                              f"(use {', '.join(suffixes)})")
    return path


def _parse_fs(text: str, where: str) -> float | None:
    """Read the fs column: blank is None (the file must say); below 125 Hz is refused."""
    if not text:
        return None
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


def check_pairs_unique(rows: list[Row]) -> None:
    """Refuse a participant-song pair listed twice: it would leak between train and test."""
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        pair = (row.participant, row.song)
        if pair in seen:
            raise DataFormatError(f"{row.where}: participant {row.participant!r} with song {row.song!r} "
                                  f"is already listed ({seen[pair]})")
        seen[pair] = row.where


def song_audio(rows: list[Row]) -> dict[str, Path]:
    """Map each song to its one audio file, refusing a song given two different files."""
    chosen: dict[str, Row] = {}
    for row in rows:
        first = chosen.setdefault(row.song, row)
        if first.audio_file.resolve() != row.audio_file.resolve():
            raise DataFormatError(f"{row.where}: song {row.song!r} has audio_file {row.audio_file} but "
                                  f"{first.where} gave {first.audio_file}")
    return {song: row.audio_file for song, row in chosen.items()}


__all__ = ["ARRAY_SUFFIXES", "CSV_NAME", "EEG_SUFFIXES", "MNE_SUFFIXES", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS",
           "Onset", "Row", "check_pairs_unique", "parse_onset", "read_rows", "song_audio", "suffix"]
