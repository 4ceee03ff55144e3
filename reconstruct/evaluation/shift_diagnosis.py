"""Why a circular time shift is no null for steady music: the measurements behind docs/evaluation.md.

Each row retrains the decoder on the main run's data and split with the EEG rearranged by chunk, or
scores an oracle built from the true spectra, and reports the time-specific measures:

* the aligned decoder, and the circular shift with guard gaps of 0, 1 and 2 s around test chunks
  (does leakage through neighbouring seconds carry the shift's score?);
* the nearest-training-second oracle (each test second replaced by the true spectrum of the nearest
  second the decoder trained on) and the offset-truth oracle (chunk k replaced by the true chunk
  k + shift): can adjacency or the music's self-similarity give the score by themselves?
* block scrambles (blocks of B chunks moved whole to new times: neighbourhoods kept, one offset per
  block) and the full scramble (the time-misaligned control).

Run by `scripts/shift_diagnosis.py`; `--meter loose` runs the same on songs without a steady meter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.comparison import MEASURE_KEYS, measure_summary
from reconstruct.evaluation.controls import (
    per_song_times,
    rearranged_config,
    time_scrambled_config,
    time_shift_chunks,
    time_shifted_config,
)
from reconstruct.evaluation.runs import derived_config, ensure_predictions
from reconstruct.evaluation.time_specific import HeldOutChunks, load_test_chunks, score_spectra, true_spans
from reconstruct.rundir import RunDir
from reconstruct.split import CHUNK_S, TRAIN, VAL, make_split


def nearest_training_oracle(config: RunConfig, chunks: HeldOutChunks, *, guard_s: int = 0) -> np.ndarray:
    """Each test second replaced by the mean true spectrum of the nearest second(s) that a split with
    `guard_s` would train or validate on, in the same recording."""
    table = RunDir.of(config).recordings()
    run, used = RunDir.of(config), RunDir.of(config).used_s()
    songs, targets = run.target_songs(), run.targets()
    split = make_split([s for _, s in table], seed=config.split_seed, scope=config.split_scope, guard_s=guard_s,
                       used_s=used)
    roles = split.example_roles().reshape(len(table), used)
    out = []
    for r, k, s in zip(chunks.recording, chunks.chunk, chunks.song):
        fitted = np.flatnonzero(np.isin(roles[r], [TRAIN, VAL]))
        seconds = []
        for t in range(k * CHUNK_S, (k + 1) * CHUNK_S):
            d = np.abs(fitted - t)
            seconds.append(np.asarray(targets[songs.index(s), fitted[d == d.min()]]).mean(axis=0))
        out.append(np.concatenate(seconds))
    return np.stack(out)


def offset_truth_oracle(config: RunConfig, chunks: HeldOutChunks, *, shift: int) -> np.ndarray:
    """Chunk k replaced by the true spectrogram of chunk k + shift of its song (circularly)."""
    n_chunks = RunDir.of(config).used_s() // CHUNK_S
    return true_spans(config, chunks.song, ((chunks.chunk + shift) % n_chunks) * CHUNK_S)


def block_order(n_chunks: int, block: int, *, seed: int) -> np.ndarray:
    """Chunk k's source chunk when blocks of `block` chunks are permuted whole (no block stays put)."""
    if n_chunks % block or n_chunks // block < 2:
        raise ReconstructError(f"{n_chunks} chunks do not make >= 2 blocks of {block}")
    rng = np.random.default_rng(seed)
    n_blocks = n_chunks // block
    while True:
        blocks = rng.permutation(n_blocks)
        if np.all(blocks != np.arange(n_blocks)):
            return (blocks[:, None] * block + np.arange(block)[None]).ravel()


def block_scrambled_config(base: RunConfig, *, block: int, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """A sub-run whose chunks take the same recording's EEG from block-permuted times (one order per song)."""
    _, source = per_song_times(base, lambda n_chunks, i: block_order(n_chunks, block, seed=seed + i))
    return rearranged_config(base, f"block{block}-scrambled-{decoder or base.decoder}", source,
                             {"seed": seed, "block": block}, decoder=decoder)


def diagnose_shift(base: RunConfig, *, decoder: str = "ridge", guards: tuple[int, ...] = (1, 2),
                   blocks: tuple[int, ...] = (4, 12), seed: int = 0, progress: bool = False,
                   log: Callable[[str], None] = print) -> dict:
    """Every row of the diagnosis for one finished run (retraining `decoder` where a row needs it)."""
    aligned = derived_config(base, decoder, decoder=decoder) if decoder != base.decoder else base
    ensure_predictions(aligned, base=base, progress=progress, log=lambda _: None)
    rows: dict[str, dict] = {}

    def score(name: str, config: RunConfig, recon: np.ndarray | None = None) -> None:
        chunks = load_test_chunks(config)
        scores = score_spectra(chunks, chunks.recon if recon is None else recon, seed=seed)
        rows[name] = {m: measure_summary(scores, m) for m in MEASURE_KEYS}
        log(f"[diagnosis] {name}: same-song {rows[name]['same_song']['accuracy']:.1%}, "
            f"top-1 {rows[name]['top1']['accuracy']:.1%}")

    def retrained(name: str, config: RunConfig) -> None:
        score(name, ensure_predictions(config, progress=progress, log=lambda _: None))

    score("aligned", aligned)
    retrained("circular shift, guard 0 s", time_shifted_config(base, seed=seed, decoder=decoder))
    for g in guards:
        guarded = derived_config(base, f"{decoder}-guard{g}", decoder=decoder, split_guard_s=g)
        ensure_predictions(guarded, base=base, progress=progress, log=lambda _: None)
        retrained(f"circular shift, guard {g} s", time_shifted_config(guarded, seed=seed, decoder=decoder))
    chunks = load_test_chunks(aligned)
    for g in (0, *guards[:1]):
        score(f"oracle: nearest training second, guard {g} s", aligned,
              nearest_training_oracle(aligned, chunks, guard_s=g))
    shift = time_shift_chunks(seed)
    score(f"oracle: true chunk k + {shift} as chunk k", aligned, offset_truth_oracle(aligned, chunks, shift=shift))
    for b in blocks:
        retrained(f"blocks of {b} chunks scrambled", block_scrambled_config(base, block=b, seed=seed, decoder=decoder))
    retrained("scrambled (the time-misaligned control)", time_scrambled_config(base, seed=seed, decoder=decoder))
    return {"decoder": decoder, "shift_chunks": shift, "seed": seed, "rows": rows,
            "simulation": base.simulation.to_dict() if base.dataset == "simulated" else None}
