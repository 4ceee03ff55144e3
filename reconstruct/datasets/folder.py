"""Bring your own data: a folder of EEG files and audio files, with a ``recordings.csv`` saying which is which.

``recordings.csv`` has a header row and one row per recording (one participant hearing one song)::

    eeg_file,participant,song,audio_file,fs,key,onset,onset_occurrence,audio_latency_ms
    eeg/p01.vhdr,p01,song1,audio/song1.wav,,,song onset,1,12
    eeg/p01.vhdr,p01,song2,audio/song2.wav,,,song onset#2,,12
    eeg/p02_s1.mat,p02,song1,audio/song1.wav,500,eeg,,,

- ``eeg_file``: the EEG, relative to the folder: a ``.npy`` array or a ``.mat`` variable shaped
  (channels, samples), or a file in a format labs record in, read with MNE-Python's ``mne.io``:
  EDF (``.edf``), BDF (``.bdf``), BrainVision (``.vhdr``), EEGLAB (``.set``) or FIF (``.fif``, ``.fif.gz``).
  Several rows may read one continuous file (one song each), never overlapping stretches of it.
- ``participant``, ``song``: ids; a (participant, song) pair appears once.
- ``audio_file``: the stimulus, relative to the folder (or to ``--audio`` when given); all rows of one
  song name the same file. Read as mono (channels averaged) and resampled to 22 050 Hz if needed.
- ``fs``: the EEG sampling rate in Hz. **Required** for a ``.npy`` array, and for a ``.mat`` file
  without a scalar ``fs`` variable (it is never guessed); blank for MNE-read files, which carry their
  own (a value that disagrees with the file is refused). Rates under 125 Hz are refused; higher ones
  are demeaned, then resampled to 125 Hz with :func:`scipy.signal.resample_poly`.
- ``key``: the variable holding the EEG in a ``.mat`` file; required for those.
- ``onset``: where the song starts in the EEG: seconds (``12.5``; ``>= 0``, with a dot), or, for an
  MNE-read file, a marker (annotation) name. A marker that occurs more than once must say which
  occurrence: ``song onset#2``, or an ``onset_occurrence`` column (1 = first). Blank: the file's start.
- ``audio_latency_ms``: the sound card's delay from the marker to the sound, in ms; the EEG is read from
  onset + latency.

Channels: only EEG channels are kept (types inferred from labels as well as read from the file, see
:mod:`reconstruct.datasets.channels`), minus those the file marks bad, matched by name across recordings.
Length: each recording gives ``length_s`` seconds from its onset (default 240, the paper's), and its song's
audio must be as long; with ``short="common"`` shorter ones set a common (shorter) length instead.
Everything is checked before the EEG is read, and every problem is reported with the CSV line.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from reconstruct.datasets.common import load_audio, require_dir
from reconstruct.datasets.channels import ChannelChoice, choose_channels, match_by_name
from reconstruct.datasets.folder_csv import CSV_NAME, Row, check_pairs_unique, read_rows, song_audio
from reconstruct.datasets.folder_files import Header, read_header, read_stretch
from reconstruct.datasets.options import MIN_LENGTH_S, FolderOptions
from reconstruct.errors import DataFormatError
from reconstruct.recording import EEG_FS, Dataset, Recording


@dataclass
class _Plan:
    """One row, checked against its file's header: the channels it gives and the seconds it starts at."""

    row: Row
    header: Header
    channels: ChannelChoice
    start_s: float

    @property
    def available_s(self) -> float:
        """Seconds of EEG from the song onset to the end of the file."""
        return self.header.duration_s - self.start_s


def load_folder(path: str | Path, *, options: FolderOptions | None = None, audio_dir: str | Path | None = None,
                min_used_s: int | None = None, progress: bool = False) -> Dataset:
    """Load a folder laid out as described in this module, so any lab's own EEG can go through the pipeline.

    `min_used_s`: refuse, before any EEG is read, a used length under this (what the caller can take).

    Returns
    -------
    Dataset
        ``name="folder:<folder name>"``, EEG float32 (channels, samples) at 125 Hz, the same channels in
        the same order for every recording, ``meta["used_s"]`` seconds each; audio mono float32 at 22 050 Hz.

    Raises
    ------
    DataFormatError
        The CSV, an EEG file or an audio file is missing, malformed or inconsistent; the message names
        the file (and the CSV line).
    """
    options = options or FolderOptions()
    folder = require_dir(path, "data folder")
    audio_root = require_dir(audio_dir, "audio folder (--audio)") if audio_dir else folder
    rows = read_rows(folder, folder / CSV_NAME, audio_root)
    check_pairs_unique(rows)
    audio_files = song_audio(rows)
    plans = [_plan(row, options) for row in rows]
    used_s = _used_length(plans, audio_files, options)
    if min_used_s is not None and (used_s or 0) < min_used_s:
        raise DataFormatError(f"the recordings give {used_s} s each (--length/--short common), but the stages after "
                              f"load still take {min_used_s} s; use recordings and songs of {min_used_s} s or more")
    _check_overlaps(plans, used_s)
    names = _common_channels(plans, options)
    recordings = [_read(plan, names, used_s) for plan in tqdm(plans, desc="EEG", unit="file", disable=not progress)]
    audio = {song: load_audio(file) for song, file in audio_files.items()}
    meta = {"source": "folder", "folder": str(folder), "csv": str(folder / CSV_NAME),
            "audio_files": {song: str(file) for song, file in audio_files.items()},
            "used_s": used_s, "length_s": options.length_s, "short": options.short,
            "eeg_fs": {p.row.label: p.header.fs for p in plans},
            "channel_names": names, "bads": options.channels.bads,
            "recordings": {p.row.label: _describe(p) for p in plans}}
    return Dataset(name=f"folder:{folder.resolve().name}", simulated=False, recordings=recordings,
                   audio=audio, meta=meta)


def _plan(row: Row, options: FolderOptions) -> _Plan:
    """Read a row's header and settle its channels and start, refusing anything that would have to be guessed."""
    header = read_header(row)
    choice = choose_channels(header.names, header.types, header.bads, options.channels,
                             where=f"{row.where} ({row.eeg_file.name})")
    onset = row.onset.seconds if not row.onset.event else _event_onset(row, header)
    start = onset + row.latency_s
    if start >= header.duration_s:
        raise DataFormatError(f"{row.where}: the song onset ({row.onset.describe()} = {onset:.2f} s"
                              f"{f' + {row.latency_s * 1000:g} ms latency' if row.latency_s else ''}) is past the "
                              f"end of {row.eeg_file.name} ({header.duration_s:.2f} s long)")
    if start < 0:
        raise DataFormatError(f"{row.where}: the song onset plus audio_latency_ms is before {row.eeg_file.name} starts")
    return _Plan(row=row, header=header, channels=choice, start_s=start)


def _event_onset(row: Row, header: Header) -> float:
    """Seconds from the file's start to the marker, refusing a marker that is absent or ambiguous."""
    event = row.onset.event
    # BrainVision prefixes the marker type ("Comment/song_start", "Stimulus/S  1"): match on either
    hits = [t for d, t in header.events if event in (d, d.split("/", 1)[-1])]
    if not hits:
        have = ", ".join(sorted({d for d, _ in header.events})[:10]) or "none"
        raise DataFormatError(f"{row.where}: onset event {event!r} not among {row.eeg_file}'s annotations ({have})")
    n = row.onset.occurrence
    if n is None and len(hits) > 1:
        at = ", ".join(f"{t:.2f}" for t in hits[:6])
        raise DataFormatError(f"{row.where}: marker {event!r} occurs {len(hits)} times in {row.eeg_file.name} "
                              f"(at {at} s); say which one this song starts at: onset={event}#2 for the "
                              f"second, or an onset_occurrence column")
    if n is not None and n > len(hits):
        raise DataFormatError(f"{row.where}: onset {row.onset.describe()} asks for occurrence {n}, but "
                              f"{row.eeg_file.name} has {len(hits)} {event!r} marker(s)")
    return hits[(n or 1) - 1]


def _audio_seconds(path: Path) -> float:
    try:
        info = sf.info(path)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise DataFormatError(f"{path}: cannot read audio ({' '.join(str(exc).split())})") from exc
    return info.frames / info.samplerate


def _used_length(plans: list[_Plan], audio_files: dict[str, Path], options: FolderOptions) -> int | None:
    """The seconds every recording gives: `length_s`, or with short="common" the longest all have; per line.

    None (``length_s=None``): every recording whole, unchecked here (the load stage checks what it uses)."""
    if options.length_s is None:
        return None
    audio_s = {song: _audio_seconds(file) for song, file in audio_files.items()}
    avail = [(min(p.available_s, audio_s[p.row.song]), p) for p in plans]
    short = [(s, p) for s, p in avail if s < options.length_s]
    if not short:
        return options.length_s
    seconds, plan = min(short, key=lambda sp: sp[0])
    what = (f"{plan.row.eeg_file.name} holds {plan.available_s:.1f} s after the song onset ({plan.start_s:.1f} s)"
            if plan.available_s <= audio_s[plan.row.song]
            else f"the audio {plan.row.audio_file.name} is {audio_s[plan.row.song]:.1f} s long")
    common = int(min(s for s, _ in avail) // 5 * 5)
    if options.short == "refuse":
        raise DataFormatError(f"{plan.row.where}: {what}, less than the {options.length_s} s used (--length); "
                              f"{len(short)} of {len(plans)} line(s) fall short. Choose --short common to use the "
                              f"{common} s all recordings have, or --length {max(common, MIN_LENGTH_S)}")
    if common < MIN_LENGTH_S:
        raise DataFormatError(f"{plan.row.where}: {what}; the common length {common} s is under the "
                              f"{MIN_LENGTH_S} s minimum (four 5-s chunks)")
    return common


def _check_overlaps(plans: list[_Plan], used_s: int | None) -> None:
    """Refuse two rows that read overlapping stretches of one file: they would share EEG between songs.

    Without a used length a row reads to the end of its file, so two rows of one file always overlap."""
    by_file: dict[Path, list[_Plan]] = {}
    for plan in plans:
        by_file.setdefault(plan.row.eeg_file.resolve(), []).append(plan)
    for same in by_file.values():
        same.sort(key=lambda p: p.start_s)
        for a, b in zip(same, same[1:]):
            a_end, b_end = ((a.start_s + used_s, b.start_s + used_s) if used_s is not None
                            else (a.header.duration_s, b.header.duration_s))
            if b.start_s < a_end:
                raise DataFormatError(
                    f"{b.row.where}: reads {b.start_s:.1f}-{b_end:.1f} s of {b.row.eeg_file.name}, which overlaps "
                    f"{a.start_s:.1f}-{a_end:.1f} s read by line {a.row.line}; each song needs its own stretch "
                    f"(check the onsets, or a repeated marker)")


def _common_channels(plans: list[_Plan], options: FolderOptions) -> list[str]:
    """The run's channel list (the keep list, else the first row's), every row matched to it by name."""
    first = plans[0]
    names = list(options.channels.keep) or first.channels.kept
    for plan in plans[1:]:
        kept = plan.channels.kept
        if not (plan.header.named and first.header.named) and len(kept) != len(first.channels.kept):
            raise DataFormatError(f"{plan.row.where}: {plan.row.eeg_file} has {len(kept)} channels but "
                                  f"{first.row.eeg_file} has {len(first.channels.kept)}; all recordings need "
                                  f"the same channels")
        match_by_name(names, kept, where=f"{plan.row.where} ({plan.row.eeg_file.name})",
                      first=f"line {first.row.line} ({first.row.eeg_file.name})")
    return names


def _read(plan: _Plan, names: list[str], used_s: int | None) -> Recording:
    """Read the used stretch of the kept channels (in the run's order), demean it, bring it to 125 Hz."""
    fs, row = plan.header.fs, plan.row
    start = int(round(plan.start_s * fs))
    stop = plan.header.n_times if used_s is None else start + int(np.ceil(used_s * fs))
    eeg = read_stretch(row, plan.header, names, start, min(stop, plan.header.n_times),
                       interpolate=plan.channels.interpolate)
    if not np.isfinite(eeg).all():
        raise DataFormatError(f"{row.eeg_file}: EEG contains NaN or infinite samples")
    eeg = eeg - eeg.mean(axis=1, keepdims=True)  # a DC offset would ring through the resampling filter
    if fs != EEG_FS:
        ratio = (Fraction(EEG_FS) / Fraction(fs).limit_denominator(10_000)).limit_denominator(10_000)
        eeg = resample_poly(eeg, ratio.numerator, ratio.denominator, axis=1)
    eeg = np.ascontiguousarray(eeg if used_s is None else eeg[:, :used_s * EEG_FS], dtype=np.float32)
    return Recording(eeg=eeg, fs=float(EEG_FS), participant=row.participant, song=row.song)


def _describe(plan: _Plan) -> dict:
    """What dataset.json says of one recording: source file and rate, where it starts, its channels."""
    return {"file": str(plan.row.eeg_file), "line": plan.row.line, "source_fs": plan.header.fs,
            "onset": plan.row.onset.describe(), "start_s": round(plan.start_s, 4),
            "n_kept": len(plan.channels.kept), "dropped": plan.channels.dropped,
            "interpolated": plan.channels.interpolate}


def input_fingerprint(path: str | Path, audio_dir: str | Path | None = None) -> str:
    """A hash of recordings.csv and every file it names (size and modification time), so an edit reloads.

    Never raises: a folder that cannot be read hashes to what it holds, and the load stage then says why."""
    folder = Path(path)
    audio_root = Path(audio_dir) if audio_dir else folder
    h = hashlib.sha256()
    csv_path = folder / CSV_NAME
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    h.update(text.encode())
    files: set[Path] = set()
    for raw in csv.DictReader(text.splitlines()):
        eeg, audio = (raw.get("eeg_file") or "").strip(), (raw.get("audio_file") or "").strip()
        if eeg:
            eeg_path = folder / eeg
            files.add(eeg_path)
            if eeg_path.parent.is_dir():  # sidecars: BrainVision .eeg/.vmrk, EEGLAB .fdt
                files.update(p for p in eeg_path.parent.iterdir() if p.stem == eeg_path.stem)
        if audio:
            files.add(audio_root / audio)
    for file in sorted(files):
        try:
            st = file.stat()
            h.update(f"{file}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{file}|missing\n".encode())
    return h.hexdigest()[:16]


__all__ = ["CSV_NAME", "input_fingerprint", "load_folder"]
