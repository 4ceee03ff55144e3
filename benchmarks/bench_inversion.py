"""Inversion of the 48 study clips: batched torch Griffin-Lim vs librosa.feature.inverse.mel_to_audio.

Target: ≥ 10× faster at equal or better spectral convergence, same n_iter. Prints medians and the ratio.
Run: .venv/bin/python benchmarks/bench_inversion.py [--clips 48] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import librosa
import numpy as np
import torch

from reconstruct.features import audio_targets, auto_ref_db
from reconstruct.invert import InversionConfig, fit_frames, invert_batch, spectral_convergence, unit_to_power
from reconstruct.synth import song_specs, synthesize_song

SR, LENGTH = 22050, 5 * 22050


def study_like_spectra(n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """n_clips 5-s targets as the pipeline feeds them to inversion: five 1-s blocks in [0, 1], per-song ref_dB."""
    songs = [synthesize_song(spec, duration_s=70) for spec in song_specs(4, seed=0)]
    refs = [auto_ref_db(y, kind="mel") for y in songs]
    t, clip_refs = [], []
    for i in range(n_clips):
        song, ref = songs[i % 4], refs[i % 4]
        start = (i // 4) * LENGTH % (len(song) - LENGTH)
        t.append(np.concatenate(audio_targets(song[start:start + LENGTH], kind="mel", n_seconds=5, ref_db=ref)))
        clip_refs.append(ref)
    return np.stack(t), np.array(clip_refs)


def main() -> None:
    """Time both inversions on the same spectra and print medians, ratio and spectral convergence."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-iter", type=int, default=32)
    args = parser.parse_args()
    t, refs = study_like_spectra(args.clips)
    mel = unit_to_power(fit_frames(t, 1 + LENGTH // 512), refs)
    config = InversionConfig(n_iter=args.n_iter)
    ours_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        ours = invert_batch(t, refs, kind="mel", length=LENGTH, config=config)
        ours_times.append(time.perf_counter() - started)
    lib_clip_times, lib_audio = [], []
    for m in mel:
        started = time.perf_counter()
        lib_audio.append(librosa.feature.inverse.mel_to_audio(m, sr=SR, n_fft=2048, hop_length=512,
                                                              n_iter=args.n_iter, length=LENGTH))
        lib_clip_times.append(time.perf_counter() - started)
    ours_median = statistics.median(ours_times)
    lib_total = sum(lib_clip_times)
    sc_ours = float(np.mean([spectral_convergence(y, m) for y, m in zip(ours, mel)]))
    sc_lib = float(np.mean([spectral_convergence(y, m) for y, m in zip(lib_audio, mel)]))
    print(f"clips: {args.clips}, Griffin-Lim iterations: {args.n_iter}, torch threads: {torch.get_num_threads()}")
    print(f"tuneback batched torch: median {ours_median:.2f} s over {args.repeats} runs "
          f"({ours_median / args.clips * 1000:.0f} ms/clip)")
    print(f"librosa mel_to_audio:   {lib_total:.2f} s for the clips (median {statistics.median(lib_clip_times) * 1000:.0f} ms/clip)")
    print(f"speed-up: {lib_total / ours_median:.1f}x (target >= 10x)")
    print(f"spectral convergence (mel, lower is better): tuneback {sc_ours:.4f}, librosa {sc_lib:.4f} "
          f"-> {'equal or better' if sc_ours <= sc_lib else 'WORSE'}")


if __name__ == "__main__":
    main()
