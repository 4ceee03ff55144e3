"""Write small synthetic manifests (docs/contracts.md §1) with real, tiny WAV files, for tests and benchmarks."""

from __future__ import annotations

import hashlib
import json
import wave
from pathlib import Path

import numpy as np

SR = 22050
POSITIONS = ("beginning", "middle", "end")


def write_wav(path: Path, freq: float, seed: int, duration_s: float) -> str:
    """A mono 16-bit tone plus noise; returns the sha256 (every file has the same size)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * duration_s)) / SR
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_manifest(folder: Path, *, n_songs: int = 4, n_participants: int = 12, per_cell: int = 2,
                  duration_s: float = 0.2, shared_participants: bool = True, practice: int | None = None,
                  drop: tuple[str, ...] = ()) -> Path:
    """Write `n_songs` x `n_participants` reconstructions (+ targets, + practice) and manifest.json.

    Each song's participants are split over positions (n_participants / 3 per position) and halves
    (`per_cell` per song, position and half). With `shared_participants` the same ids p01… recur across
    songs (NMED-T style), which makes "different EEG participant" a real constraint.
    """
    folder.mkdir(parents=True, exist_ok=True)
    songs = [f"song{i + 1}" for i in range(n_songs)]
    clips: list[dict] = []
    n = 0

    def add(cid: str, song: str, participant: str | None, position: str | None, onset: float, role: str,
            half: int | None, target: str | None, freq: float) -> None:
        nonlocal n
        n += 1
        file = f"audio/{cid}.wav"
        sha = write_wav(folder / file, freq, n, duration_s)
        clips.append({"id": cid, "file": file, "sha256": sha, "song": song, "eeg_participant": participant,
                      "position": position, "onset_s": onset, "duration_s": duration_s, "role": role,
                      "half": half, "target": target})

    r = 0
    for si, song in enumerate(songs):
        base = 220.0 * (1 + si)
        for pi in range(n_participants):
            # positions rotate with the song and halves alternate, so each EEG participant is as often in half 1
            # as in half 2 (a match as often as a foil in each version) and spans the positions (issue 15)
            position = POSITIONS[(pi + si) % 3]
            slot = pi // 3
            half = 1 if (slot + si) % 2 == 0 else 2
            if (pi // 3) >= 2 * per_cell:
                continue
            participant = f"p{pi + 1:02d}" if shared_participants else f"p{si + 1}{pi + 1:02d}"
            onset = {"beginning": 10.0, "middle": 100.0, "end": 200.0}[position] + 5.0 * slot
            r += 1
            rid, xid = f"r{r:02d}", f"x{r:02d}"
            add(xid, song, None, position, onset, "target", None, None, base)
            add(rid, song, participant, position, onset, "reconstruction", half, xid, base * 1.01)
    # by default two practice clips a song (another time, another participant): a mixed study's practice
    # shows a same-song trial too (the first clip of each song is the practice match)
    n_practice = 2 * n_songs if practice is None else practice
    for k in range(n_practice):
        song = songs[k % n_songs]
        add(f"px{k + 1}", song, None, "middle", 150.0 + 10 * k, "practice_target", None, None, 300.0)
        add(f"pr{k + 1}", song, f"p{k + 1:02d}", "middle", 150.0 + 10 * k, "practice_reconstruction", None,
            f"px{k + 1}", 301.0)
    clips = [c for c in clips if c["id"] not in drop]
    manifest = {
        "schema": "tuneback.manifest/1",
        "dataset": {"name": "test-synthetic", "simulated": True, "n_songs": n_songs,
                    "n_participants": n_participants, "snr": 1.0},
        "created_utc": "2026-11-25T14:00:00Z", "code_version": "test", "seeds": {"select": 0},
        "params": {}, "songs": songs, "clips": clips,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
