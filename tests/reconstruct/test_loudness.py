"""Every clip leaves at the same BS.1770 loudness, without clipping."""

import numpy as np
import pytest

from reconstruct.loudness import PEAK_CEILING, integrated_loudness, normalize_clips


def test_clips_end_equally_loud_and_unclipped():
    rng = np.random.default_rng(0)
    t = np.arange(22050 * 5) / 22050
    clips = np.stack([0.01 * rng.standard_normal(len(t)), 0.9 * np.sin(2 * np.pi * 300 * t),
                      0.2 * np.sign(np.sin(2 * np.pi * 3 * t)) * rng.standard_normal(len(t))]).astype(np.float32)
    out, lufs = normalize_clips(clips)
    levels = [integrated_loudness(c) for c in out]
    assert max(levels) - min(levels) < 0.05
    assert levels[0] == pytest.approx(lufs, abs=0.05)
    assert np.abs(out).max() <= PEAK_CEILING + 1e-6


def test_silent_clip_is_refused():
    with pytest.raises(ValueError, match="silent"):
        normalize_clips(np.zeros((2, 22050 * 5), dtype=np.float32))
