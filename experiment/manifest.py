"""Read and check a reconstruction manifest (docs/contracts.md §1): schema, roles, targets, files."""

from __future__ import annotations

import hashlib
import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiment.audio import wav_problem
from experiment.errors import ExperimentError

SCHEMA = "tuneback.manifest/1"
ROLES = ("reconstruction", "target", "practice_reconstruction", "practice_target")
POSITIONS = ("beginning", "middle", "end")
TARGET_ROLE = {"reconstruction": "target", "practice_reconstruction": "practice_target"}
LOUDNESS_TOLERANCE_LU = 1.0
"""How far a clip's measured loudness may sit from the manifest's `params.loudness_lufs` (16-bit rounding is
far below this; a clip left un-normalised is several LU off)."""


@dataclass(frozen=True)
class ManifestClip:
    """One clip entry of the manifest, with its file resolved to an absolute path."""

    id: str
    file: Path
    sha256: str
    song: str
    eeg_participant: str | None
    position: str | None
    onset_s: float | None
    duration_s: float
    role: str
    half: int | None
    target: str | None


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: where it is, its hash, its songs and clips, and the rest of its metadata."""

    path: Path
    sha256: str
    songs: tuple[str, ...]
    clips: tuple[ManifestClip, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, ManifestClip]:
        """Clips keyed by id."""
        return {c.id: c for c in self.clips}

    def role(self, role: str) -> list[ManifestClip]:
        """The clips of one role, in manifest order."""
        return [c for c in self.clips if c.role == role]


def load_manifest(path: str | Path, *, check_files: bool = True) -> Manifest:
    """Parse and check a manifest; with `check_files`, also the audio (exists, sha256, identical WAV format).

    Raises ExperimentError listing every problem found, not only the first.
    """
    path = Path(path).resolve()
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ExperimentError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    try:
        raw = json.loads(raw_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:  # bad bytes or absurd nesting too
        raise ExperimentError(f"manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ExperimentError(f"manifest {path}: top level must be a JSON object")
    problems: list[str] = []
    schema = raw.get("schema")
    if schema != SCHEMA:
        problems.append(f"schema is {schema!r}, expected {SCHEMA!r}")
    entries = raw.get("clips")
    if not isinstance(entries, list) or not entries:
        raise ExperimentError(f"manifest {path}: 'clips' must be a non-empty list")
    clips = [c for c in (_clip(e, i, path.parent, problems) for i, e in enumerate(entries)) if c is not None]
    _check_ids_and_targets(clips, problems)
    if check_files and not problems:
        _check_files(clips, problems)
        stated = (raw.get("params") or {}).get("loudness_lufs") if isinstance(raw.get("params"), dict) else None
        if not problems and isinstance(stated, int | float) and not isinstance(stated, bool):
            _check_loudness(clips, float(stated), problems)
    if problems:
        raise ExperimentError(f"manifest {path} has problems:\n  - " + "\n  - ".join(problems))
    songs = raw.get("songs") or sorted({c.song for c in clips})
    info = {k: raw.get(k) for k in ("schema", "dataset", "created_utc", "code_version", "seeds")}
    return Manifest(path, hashlib.sha256(raw_bytes).hexdigest(), tuple(songs), tuple(clips), info)


def _clip(entry: Any, i: int, root: Path, problems: list[str]) -> ManifestClip | None:
    """Convert one JSON entry, recording what is wrong with it."""
    if not isinstance(entry, dict):
        problems.append(f"clips[{i}] is not an object")
        return None
    missing = [k for k in ("id", "file", "song", "role", "duration_s") if entry.get(k) in (None, "")]
    if missing:
        problems.append(f"clips[{i}] ({entry.get('id', '?')}) lacks {', '.join(missing)}")
        return None
    cid, role = str(entry["id"]), str(entry["role"])
    if role not in ROLES:
        problems.append(f"clip {cid}: role {role!r} is not one of {', '.join(ROLES)}")
    position = entry.get("position")
    if position is not None and position not in POSITIONS:
        problems.append(f"clip {cid}: position {position!r} is not one of {', '.join(POSITIONS)}")
    half = entry.get("half")
    if role == "reconstruction" and half not in (1, 2):
        problems.append(f"clip {cid}: a reconstruction needs half 1 or 2, got {half!r}")
    if role in TARGET_ROLE and not entry.get("eeg_participant"):
        problems.append(f"clip {cid}: a {role} needs its eeg_participant")
    if role == "reconstruction" and position is None:
        problems.append(f"clip {cid}: a reconstruction needs its position")
    file = Path(str(entry["file"]))
    if file.is_absolute() or ".." in file.parts:
        problems.append(f"clip {cid}: file {file} must be a path inside the manifest's folder")
    try:
        return ManifestClip(
            id=cid, file=(root / file).resolve(), sha256=str(entry.get("sha256") or ""), song=str(entry["song"]),
            eeg_participant=None if entry.get("eeg_participant") is None else str(entry["eeg_participant"]),
            position=position, onset_s=None if entry.get("onset_s") is None else float(entry["onset_s"]),
            duration_s=float(entry["duration_s"]), role=role, half=half if isinstance(half, int) else None,
            target=None if entry.get("target") is None else str(entry["target"]),
        )
    except (TypeError, ValueError) as exc:
        problems.append(f"clip {cid}: {exc}")
        return None


def _check_ids_and_targets(clips: list[ManifestClip], problems: list[str]) -> None:
    """Ids are unique; every (practice) reconstruction names an existing target of the same song."""
    seen: dict[str, int] = {}
    for c in clips:
        seen[c.id] = seen.get(c.id, 0) + 1
    problems.extend(f"clip id {cid} appears {n} times" for cid, n in seen.items() if n > 1)
    by_id = {c.id: c for c in clips}
    for c in clips:
        if c.role not in TARGET_ROLE:
            continue
        target = by_id.get(c.target or "")
        if target is None:
            problems.append(f"clip {c.id}: its target {c.target!r} is not in the manifest")
        elif target.role != TARGET_ROLE[c.role]:
            problems.append(f"clip {c.id}: target {target.id} has role {target.role}, expected {TARGET_ROLE[c.role]}")
        elif target.song != c.song:
            problems.append(f"clip {c.id} (song {c.song}): its target {target.id} is from song {target.song}")


def _check_files(clips: list[ManifestClip], problems: list[str]) -> None:
    """Every file exists, matches its sha256, and all share one WAV format, length and byte size."""
    formats: dict[tuple, list[str]] = {}
    for c in clips:
        try:
            data = c.file.read_bytes()
        except OSError:
            problems.append(f"clip {c.id}: file {c.file} is missing or unreadable")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if not c.sha256:
            problems.append(f"clip {c.id}: sha256 is missing (required: the server serves only bytes it verified)")
        elif digest != c.sha256:
            problems.append(f"clip {c.id}: sha256 of {c.file.name} is {digest[:12]}…, manifest says {c.sha256[:12]}…")
        chunk_problem = wav_problem(data)
        if chunk_problem:
            problems.append(f"clip {c.id}: {c.file.name} {chunk_problem}")
            continue
        try:
            with wave.open(str(c.file), "rb") as w:
                key = (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), len(data))
        except (wave.Error, EOFError) as exc:
            problems.append(f"clip {c.id}: {c.file.name} is not a PCM WAV file ({exc})")
            continue
        formats.setdefault(key, []).append(c.id)
    if len(formats) > 1:
        described = "; ".join(
            f"{len(ids)} clip(s) like {ids[0]}: {k[0]} ch, {8 * k[1]}-bit, {k[2]} Hz, {k[3]} frames, {k[4]} bytes"
            for k, ids in sorted(formats.items(), key=lambda kv: -len(kv[1]))
        )
        problems.append(f"clips differ in format, length or size (a listener could tell them apart): {described}")


def _check_loudness(clips: list[ManifestClip], stated_lufs: float, problems: list[str]) -> None:
    """Every clip measures the loudness the manifest states (ITU-R BS.1770), so level never tells A from B."""
    import numpy as np
    import pyloudnorm  # imported here: only study creation measures loudness, never a web worker's start

    for c in clips:
        y, sr = _pcm(c.file)
        if y is None:
            problems.append(f"clip {c.id}: only 16-bit PCM clips can have their loudness checked")
            continue
        if y.shape[0] < int(0.4 * sr):  # BS.1770 gates 400-ms blocks: a shorter clip has no integrated loudness
            problems.append(f"clip {c.id}: too short ({y.shape[0] / sr:.2f} s) to measure its loudness")
            continue
        lufs = float(pyloudnorm.Meter(sr).integrated_loudness(y))
        if not np.isfinite(lufs) or abs(lufs - stated_lufs) > LOUDNESS_TOLERANCE_LU:
            problems.append(f"clip {c.id}: loudness {lufs:.1f} LUFS, the manifest says {stated_lufs:.1f} LUFS "
                            f"(± {LOUDNESS_TOLERANCE_LU} LU)")


def _pcm(path: Path):  # noqa: ANN202 - (np.ndarray [shape=(samples,) or (samples, channels)] | None, sr)
    """A 16-bit PCM WAV as float64 in [-1, 1] (None for other sample widths) and its sampling rate."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        sr, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())
    if width != 2:
        return None, sr
    y = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    return (y if channels == 1 else y.reshape(-1, channels)), sr


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
