"""Synthesise distinct songs (tempo, key, timbre, sections) for the simulated data set."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from reconstruct.errors import ParameterError

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


@dataclass(frozen=True)
class SongSpec:
    """What makes one synthetic song recognisably itself."""

    name: str
    bpm: float
    root_midi: int
    minor: bool
    brightness: float  # harmonic roll-off exponent of the lead: small = bright
    drum_density: float  # probability of a hi-hat on each eighth note
    seed: int

    def to_dict(self) -> dict:
        """Plain dict for manifests."""
        return asdict(self)


def song_specs(n_songs: int, *, seed: int) -> list[SongSpec]:
    """Draw `n_songs` specs spread over tempo, key and timbre so every song differs from the others."""
    rng = np.random.default_rng(seed)
    tempos = np.linspace(72, 150, n_songs)[rng.permutation(n_songs)]
    roots = 45 + (np.arange(n_songs) * 5) % 12 + rng.integers(0, 2, n_songs) * 12
    brightness = np.linspace(0.6, 2.4, n_songs)[rng.permutation(n_songs)]
    return [
        SongSpec(
            name=f"song{i + 1}",
            bpm=float(round(tempos[i], 1)),
            root_midi=int(roots[i]),
            minor=bool(i % 2),
            brightness=float(round(brightness[i], 2)),
            drum_density=float(round(rng.uniform(0.2, 0.9), 2)),
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        for i in range(n_songs)
    ]


def _midi_hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69) / 12)


def _tone(freq: float, n: int, sr: int, brightness: float, n_harm: int = 8) -> np.ndarray:
    t = np.arange(n) / sr
    harmonics = np.arange(1, n_harm + 1)
    amps = harmonics ** (-brightness)
    harmonics, amps = harmonics[harmonics * freq < sr / 2 - 500], amps[harmonics * freq < sr / 2 - 500]
    return (amps[:, None] * np.sin(2 * np.pi * freq * harmonics[:, None] * t)).sum(0) / amps.sum()


def _env(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(1.0, t / attack) * np.exp(-t / decay)


def _place(out: np.ndarray, start: int, sig: np.ndarray) -> None:
    end = min(len(out), start + len(sig))
    if start < end:
        out[start:end] += sig[: end - start]


METERS = ("steady", "loose")


def synthesize_song(spec: SongSpec, *, duration_s: float, sr: int = 22050, meter: str = "steady") -> np.ndarray:
    """Render a song: drums, bass, chords and a lead melody, in 8-bar sections that change instrumentation.

    ``meter="steady"`` keeps one tempo and a 4-bar chord cycle, as most songs do; ``"loose"`` draws every
    beat's length (±25 %) and harmony afresh, so the music a fixed time later is no longer a function of
    the music now (a diagnostic for the circularly shifted control, not a realistic song)."""
    if meter not in METERS:
        raise ParameterError(f"meter={meter!r} must be one of {list(METERS)}")
    rng = np.random.default_rng(spec.seed)
    loose = np.random.default_rng([spec.seed, 1])  # its own stream: a steady song is unchanged by the option
    n = int(round(duration_s * sr))
    beat = 60.0 / spec.bpm
    scale = spec.root_midi + (MINOR if spec.minor else MAJOR)
    progression = rng.choice([0, 3, 4, 5], size=4, replace=True)
    progression[0] = 0
    tracks = {k: np.zeros(n, dtype=np.float64) for k in ("drums", "bass", "chords", "lead")}
    n_beats = int(duration_s / beat) + 1
    lengths = beat * (loose.uniform(0.75, 1.25, n_beats) if meter == "loose" else np.ones(n_beats))
    onsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    degrees = progression[loose.integers(0, 4, n_beats) if meter == "loose" else (np.arange(n_beats) // 4) % 4]
    kick = _env(int(0.25 * sr), sr, 0.002, 0.06) * np.sin(2 * np.pi * 55 * np.arange(int(0.25 * sr)) / sr * (1 + 2 * np.exp(-np.arange(int(0.25 * sr)) / (0.02 * sr))))
    hat_len = int(0.05 * sr)
    section_gains = rng.uniform(0.25, 1.0, size=(n_beats // 32 + 2, 4))
    for b in range(n_beats):
        start = int(round(onsets[b] * sr)) if meter == "loose" else int(b * beat * sr)
        section = section_gains[b // 32]
        beat_in_bar = b % 4
        degree = degrees[b]
        if beat_in_bar in (0, 2) or rng.random() < 0.15:
            _place(tracks["drums"], start, section[0] * kick)
        for half in (0, 1):
            if rng.random() < spec.drum_density:
                hat = rng.standard_normal(hat_len) * _env(hat_len, sr, 0.001, 0.012) * 0.25
                _place(tracks["drums"], start + int(half * beat * sr / 2), section[0] * hat)
        bass_len = int(beat * sr)
        bass_note = scale[degree] - 12
        _place(tracks["bass"], start, section[1] * 0.5 * _tone(_midi_hz(bass_note), bass_len, sr, 1.5, 4) * _env(bass_len, sr, 0.01, beat * 0.6))
        if beat_in_bar == 0:
            chord_len = int(4 * beat * sr)
            chord = sum(_tone(_midi_hz(scale[(degree + k) % 7] + 12 * ((degree + k) // 7)), chord_len, sr, spec.brightness + 0.5, 5) for k in (0, 2, 4)) / 3
            _place(tracks["chords"], start, section[2] * 0.35 * chord * _env(chord_len, sr, 0.05, 2.5 * beat))
        for sub in range(rng.choice([1, 2])):
            if rng.random() < 0.8:
                note_len = int(beat * sr / 2)
                note = scale[rng.integers(0, 7)] + 12
                _place(tracks["lead"], start + sub * note_len, section[3] * 0.4 * _tone(_midi_hz(note), note_len, sr, spec.brightness) * _env(note_len, sr, 0.01, beat * 0.4))
    y = sum(tracks.values())
    y = y / (np.max(np.abs(y)) + 1e-9) * 0.9
    return y.astype(np.float32)
