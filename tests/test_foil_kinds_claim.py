"""Issue 25: a mixed study filled by simulated listeners of both kinds; the claim changes with the ear.

Clips are note sequences: every clip of a song plays the same six notes (so its time-averaged spectrum is the
song's), in an order that depends on where in the song it comes from (so only its pattern in time says when).
The mixed design is built from them, each listener's session drawn as the server draws it, and every trial
answered by loadbot's ears on the actual WAV bytes: the identity-only ear must land at chance on same-song
trials and the temporal ear well above, and `analyze` must say so.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sys
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "experiment"))

from analysis.report import analyze  # noqa: E402
from analysis.synthetic import synthetic_table  # noqa: E402
from experiment.design import build_design, draw_session  # noqa: E402
from experiment.manifest import load_manifest  # noqa: E402
from experiment_factory import make_manifest  # noqa: E402
from loadbot.ears import hear_in_time, listen  # noqa: E402

SR = 8000
NOTES = 6
NOTE_SAMPLES = 2048  # the identity ear's frame: its time-averaged spectrum is then blind to the notes' order


def _song_notes(song: str) -> np.ndarray:
    """Six pitches of one song (its own register)."""
    index = int(song.removeprefix("song"))
    return 200.0 * 2 ** (index * 0.7) * 2 ** (np.arange(NOTES) / 7)


def _sequence(song: str, onset: float, noise_seed: int | None, duration: float) -> bytes:
    """The song's six notes in the order its onset gives; with `noise_seed` a noisy 'reconstruction' of it."""
    order = random.Random(f"{song}:{onset}").sample(range(NOTES), NOTES)
    del duration
    t = np.arange(NOTE_SAMPLES) / SR
    signal = np.concatenate([np.sin(2 * np.pi * _song_notes(song)[k] * t) for k in order])
    if noise_seed is not None:
        signal = signal + np.random.default_rng(noise_seed).normal(0, 0.6, signal.size)
    pcm = (np.clip(signal / np.abs(signal).max(), -1, 1) * 20000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def patterned(tmp_path_factory):
    """The factory's mixed-ready manifest with every clip replaced by a note sequence; clip bytes by id."""
    folder = tmp_path_factory.mktemp("patterned")
    path = make_manifest(folder, duration_s=NOTES * NOTE_SAMPLES / SR)
    manifest = json.loads(path.read_text())
    audio = {}
    for n, c in enumerate(manifest["clips"]):
        noisy = n if c["role"] in ("reconstruction", "practice_reconstruction") else None
        data = _sequence(c["song"], c["onset_s"], noisy, c["duration_s"])
        (folder / c["file"]).write_bytes(data)
        c["sha256"] = hashlib.sha256(data).hexdigest()
        audio[c["id"]] = data
    path.write_text(json.dumps(manifest))
    return load_manifest(path).clips, audio


def _fill(clips, audio, ear: str, n_listeners: int = 16, seed: int = 0) -> pd.DataFrame:
    """An export-shaped table of a mixed study whose listeners answered with `ear` on the real clips."""
    design = build_design(clips, seed=seed, foil_policy="mixed")
    table = synthetic_table(n_listeners, seed=seed)
    rng = random.Random(seed)
    for listener_index, (listener, rows) in enumerate(table.groupby("listener", sort=True)):
        version = design.versions[int(rows["version"].iloc[0]) - 1]
        specs = {t.item: t for t in version.trials}
        plan = [p for p in draw_session(version, seed * 1000 + listener_index) if not p.practice]
        scored = rows.index[~rows["practice"].to_numpy()]
        for index, p in zip(scored, plan, strict=True):
            t = specs[p.item]
            a, b = (t.match, t.foil) if p.correct_side == "A" else (t.foil, t.match)
            answer = listen(ear, audio[t.target], audio[a], audio[b], rng, noise=0.02)
            table.loc[index, ["item", "song", "position", "eeg_participant", "foil_song", "foil_eeg_participant",
                              "match_clip", "foil_clip", "correct_side", "answer"]] = [
                t.item, t.song, t.position, t.match_participant, t.foil_song, t.foil_participant, t.match, t.foil,
                p.correct_side, answer]
            table.loc[index, "correct"] = answer == p.correct_side
            table.loc[index, "timed_out"] = False
    return table


def test_temporal_ear_hears_time_identity_ear_does_not(patterned):
    clips, audio = patterned
    by = {c.id: c for c in clips}
    design = build_design(clips, seed=0, foil_policy="mixed")
    same = [t for v in design.versions for t in v.trials if t.foil_kind == "same-song"]
    rng = random.Random(1)
    temporal = np.mean([hear_in_time(audio[t.target], audio[t.match], audio[t.foil], rng) == "A" for t in same])
    identity = np.mean([listen("identity", audio[t.target], audio[t.match], audio[t.foil], rng) == "A" for t in same])
    assert temporal > 0.9 and 0.2 < identity < 0.8
    assert all(by[t.foil].song == by[t.match].song for t in same)


LINES = {"source": "test", "kinds": {
    "different-song": {"identity_every_pair": {"n": 1728, "accuracy": 0.997, "ci95": [0.99, 1.0]},
                       "every_pair": {"n": 1728, "accuracy": 0.9, "ci95": [0.88, 0.92]}},
    "same-song": {"identity_every_pair": {"n": 384, "accuracy": 0.5, "ci95": [0.45, 0.55]},
                  "every_pair": {"n": 384, "accuracy": 0.7, "ci95": [0.65, 0.75]}}}}


@pytest.mark.parametrize(("ear", "decoded"), [("temporal", True), ("identity", False)])
def test_analyze_states_the_claim_the_listeners_support(patterned, tmp_path, ear, decoded):
    clips, audio = patterned
    results = analyze(_fill(clips, audio, ear), out_dir=tmp_path, power_reps=20, lines=LINES)
    fk = results["foil_kinds"]
    same, different = fk["per_kind"]["same song"], fk["per_kind"]["different song"]
    assert same["n"] == different["n"] == 16 * 12
    for k in (same, different):  # the exact two-sided interval, never a one-sided bound
        assert 0 < k["ci_low"] < k["accuracy"] < k["ci_high"] < 1 or k["accuracy"] == 1
    assert different["accuracy"] > 0.9 and different["identity_line"]["accuracy"] == 0.997
    assert same["identity_line"]["accuracy"] == 0.5 and same["observer_line"]["accuracy"] == 0.7
    assert "error" not in fk["effect"] and fk["claim"]["decoding"] is decoded
    claim = results["claim"]
    assert "not evidence that the music was decoded" in claim
    if decoded:
        assert same["ci_low"] > 0.5 and fk["effect"]["same_song_p_greater"] < 0.05
        assert "support the claim that listeners recognised the music in time" in claim
    else:
        # the ear's answer to an item is fixed, so pooled trials cluster by item: the model's test decides
        assert same["accuracy"] < 0.6 and fk["effect"]["same_song_p_greater"] > 0.05
        assert fk["effect"]["b1_same_song"] < -1
        assert "do not support the claim that the music was decoded in time" in claim
        assert "recognised the song" in claim
    assert "Claim supported" in results["summary"]
    assert "Which claim the data support" in Path(results["files"]["report"]).read_text()


def test_without_same_song_trials_no_decoding_claim(tmp_path):
    results = analyze(synthetic_table(8, accuracy=0.9, seed=3), out_dir=tmp_path, power_reps=20)
    fk = results["foil_kinds"]
    assert list(fk["per_kind"]) == ["different song"] and fk["claim"]["decoding"] is False
    assert "no same-song trials, so it cannot show decoding in time" in results["claim"]
