"""The simulated listener's ears for the second headphone test (antiphase): which of three tones is the quietest.

Over headphones each ear hears its own channel, so the antiphase tone is as loud as the in-phase one and the tone
played 6 dB softer is the quietest. (Kept apart from loadbot/ears.py, which judges the task's clips.)
"""

from __future__ import annotations

import io
import wave

import numpy as np


def quietest_interval(data: bytes) -> int:
    """Which third (1-3) of a stereo WAV of three tones is the quietest in the left ear."""
    with wave.open(io.BytesIO(data)) as w:
        channels, raw = w.getnchannels(), w.readframes(w.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    left = pcm.reshape(-1, channels)[:, 0] if channels > 1 else pcm
    thirds = np.array_split(left, 3)
    levels = [float(np.sqrt(np.mean(part * part))) if part.size else 0.0 for part in thirds]
    return int(np.argmin(levels)) + 1
