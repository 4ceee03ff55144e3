"""The field's identification metrics on a run's test chunks: N-way segment identification among every test
segment of the data set, song ID from 3-s windows, and the ICASSP challenge's match-mismatch.

Every similarity is `time_specific._standardised`'s: level-relative dB, z-scored, Pearson r by dot product.
Windows are cut from each 5-s test chunk from its start: 1 s → the chunk's 5 seconds, 3 s → the windows at 0, 1
and 2 s (a 1-s hop: without it a 4-song set has fewer than 50 distinct 3-s windows; a query's distractors never
overlap its own window), 5 s → the chunk itself. Several participants share a (song, second) truth, so the
candidates are the *distinct* true windows (song, chunk, offset); a query is one reconstruction window.
"""

from __future__ import annotations

import numpy as np

from reconstruct.errors import ParameterError
from reconstruct.evaluation.stats import accuracy_vs_chance, two_way_cluster_ci
from reconstruct.evaluation.time_specific import HeldOutChunks, _standardised
from reconstruct.split import CHUNK_S

WAYS = (2, 10, 50, "all")
WINDOWS_S = (1, 3, 5)
HOP_S = 1  # the field's metrics cut every window with a 1-s hop (1 s and 5 s: the same as no overlap)
MM_WAYS = (2, 5)
SONG_ID_S = 3


def window_offsets(window_s: int, hop_s: int | None = None) -> list[int]:
    """Start seconds of the `window_s`-s windows of a 5-s chunk, every `hop_s` s from its start (default: no
    overlap)."""
    if not 1 <= int(window_s) <= CHUNK_S:
        raise ParameterError(f"window_s={window_s} must be in [1, {CHUNK_S}] (the test chunks are {CHUNK_S} s)")
    hop = int(window_s if hop_s is None else hop_s)
    if hop < 1:
        raise ParameterError(f"hop_s={hop_s} must be >= 1")
    return list(range(0, CHUNK_S - int(window_s) + 1, hop))


def cut_windows(spectra: np.ndarray, window_s: int, hop_s: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows [shape=(n × k, window_s × frames, bins)], their chunk row, their start second) of 5-s chunks."""
    per_s = spectra.shape[1] // CHUNK_S
    offsets = window_offsets(window_s, hop_s)
    wins = np.stack([s[o * per_s:(o + window_s) * per_s] for s in spectra for o in offsets])
    rows = np.repeat(np.arange(len(spectra)), len(offsets))
    return wins, rows, np.tile(offsets, len(spectra))


def wolpaw_bits(accuracy: float, n: int) -> float:
    """Bits per selection of an n-way choice at `accuracy` (Wolpaw et al. 2000); 0 at or below chance."""
    p = float(accuracy)
    if n < 2 or p <= 1 / n:
        return 0.0
    bits = np.log2(n) + p * np.log2(p)
    if p < 1:
        bits += (1 - p) * np.log2((1 - p) / (n - 1))
    return float(bits)


def bits_per_minute(accuracy: float, n: int, window_s: float) -> float:
    """The information-transfer rate: Wolpaw bits per selection × selections per minute."""
    return wolpaw_bits(accuracy, n) * 60.0 / window_s


def correlations(queries: np.ndarray, candidates: np.ndarray, *, block: int = 512) -> np.ndarray:
    """Pearson r of every query spectrogram with every candidate [shape=(q, c)], on level-relative dB, the
    queries standardised in blocks (a data set's 1-s windows would not fit in memory at once)."""
    cand = _standardised(candidates)
    return np.concatenate([_standardised(queries[i:i + block]) @ cand.T for i in range(0, len(queries), block)])


def _scored(hits: np.ndarray, chance: float, chunks: HeldOutChunks, rows: np.ndarray) -> dict:
    """Accuracy, exact CI vs chance and the CI clustered by (true span, participant)."""
    return {**accuracy_vs_chance(int(hits.sum()), len(hits), chance),
            "ci_clustered": two_way_cluster_ci(hits, *chunks.clusters(rows))}


def _wins(scores: np.ndarray, own: np.ndarray, rivals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Does each query's own candidate beat its rivals [shape=(q, m)]? A tie is a fair coin among the tied."""
    mine = scores[np.arange(len(own)), own]
    best = np.take_along_axis(scores, rivals, axis=1).max(axis=1)
    tied = (np.take_along_axis(scores, rivals, axis=1) == mine[:, None]).sum(axis=1)
    return (mine > best) | ((mine == best) & (rng.random(len(own)) < 1 / (1 + tied)))


def segment_identification(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0,
                           window_s: int = 3, ways: tuple = WAYS, hop_s: int | None = None) -> dict:
    """N-way identification of each reconstruction window among the distinct true windows of every test chunk
    of the data set (all songs): a hit when its own truth correlates best among itself and N − 1 distractors
    drawn (seeded) from the pool without it and without any window overlapping it in time; "all" = every such
    window. Chance 1/N; ITR in bits/min. `hop_s` < `window_s` cuts overlapping windows (more candidates)."""
    _check(chunks, recon)
    if any(way != "all" and int(way) < 2 for way in ways):
        raise ParameterError(f"N={min(int(w) for w in ways if w != 'all')} must be >= 2 (or 'all')")
    q, rows, offsets = cut_windows(recon, window_s, hop_s)
    keys = [f"{chunks.song[r]}#{chunks.chunk[r]}#{o}" for r, o in zip(rows, offsets)]
    pool, first, own = np.unique(keys, return_index=True, return_inverse=True)
    truth, _, _ = cut_windows(chunks.truth, window_s, hop_s)
    scores = correlations(q, truth[first])
    span = np.unique([f"{chunks.song[r]}#{chunks.chunk[r]}" for r in rows], return_inverse=True)[1]
    barred = (span[:, None] == span[first][None, :]) & (np.abs(offsets[:, None] - offsets[first][None, :]) < window_s)
    n_max = len(pool) - int(barred.sum(axis=1).max()) + 1  # own + every window that does not overlap it
    rng = np.random.default_rng(seed)
    out: dict = {"window_s": window_s, "n_queries": len(q), "pool": len(pool), "seed": seed,
                 "windows": f"{window_s}-s windows at {window_offsets(window_s, hop_s)} s of each test chunk; "
                            "distractors never overlap the query's own window"}
    for way in ways:
        n = n_max if way == "all" else int(way)
        if n > n_max or n < 2:
            out[str(way)] = {"skipped": f"N={n} exceeds the {n_max} test windows a query can be told from"}
            continue
        keys_r = np.where(barred, np.inf, rng.random(scores.shape))  # own and overlapping windows never drawn
        rivals = np.argpartition(keys_r, n - 2, axis=1)[:, :n - 1]  # the n − 1 smallest random keys
        hits = _wins(scores, own, rivals, rng)
        res = _scored(hits, 1 / n, chunks, rows)
        out[str(way)] = {**res, "n_way": n, "bits_per_selection": wolpaw_bits(res["accuracy"], n),
                         "bits_per_min": bits_per_minute(res["accuracy"], n, window_s)}
    return out


def song_templates(chunks: HeldOutChunks, baseline: np.ndarray) -> dict[str, np.ndarray]:
    """Each song's template from the song-mean baseline (its mean training/validation spectrogram, tiled):
    never a test second."""
    return {str(s): baseline[np.flatnonzero(chunks.song == s)[0]] for s in np.unique(chunks.song)}


def song_identification(chunks: HeldOutChunks, recon: np.ndarray, *, templates: dict[str, np.ndarray],
                        seed: int = 0, window_s: int = SONG_ID_S) -> dict:
    """The nearest song (by correlation with each song's training-only template) of every `window_s`-s window of
    the reconstructions; chance 1 / number of songs."""
    _check(chunks, recon)
    names = sorted(templates)
    if len(names) < 2:
        return {"skipped": f"song ID needs >= 2 songs (got {len(names)})"}
    q, rows, _ = cut_windows(recon, window_s)
    tmpl, _, _ = cut_windows(np.stack([templates[s] for s in names]), window_s)
    tmpl = tmpl[::len(window_offsets(window_s))]  # one window per song (the template is stationary)
    scores = correlations(q, tmpl)
    own = np.searchsorted(names, chunks.song[rows].astype(str))
    rivals = np.array([[j for j in range(len(names)) if j != i] for i in own])
    hits = _wins(scores, own, rivals, np.random.default_rng(seed))
    return {**_scored(hits, 1 / len(names), chunks, rows), "window_s": window_s, "songs": names,
            "templates": "each song's mean training/validation spectrogram (no test second)"}


def match_mismatch(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0, ways: tuple = MM_WAYS) -> dict:
    """ICASSP Auditory EEG Challenge match-mismatch on 5 s: the reconstruction against its true span and
    `way` − 1 imposter spans of the same song (other test spans, seeded); chance 1/way."""
    _check(chunks, recon)
    keys = np.array([f"{s}#{c}" for s, c in zip(chunks.song, chunks.chunk)])
    pool, first, own = np.unique(keys, return_index=True, return_inverse=True)
    scores = correlations(recon, chunks.truth[first])
    same = chunks.song[first][None, :] == chunks.song[:, None]
    out: dict = {"window_s": CHUNK_S, "seed": seed}
    rng = np.random.default_rng(seed)
    for way in ways:
        if way < 2:
            raise ParameterError(f"match-mismatch way={way} must be >= 2")
        ok = np.flatnonzero(same.sum(axis=1) >= way)
        if not len(ok):
            out[f"{way}way"] = {"skipped": f"no song has {way} distinct test spans"}
            continue
        rivals = np.stack([rng.choice(np.flatnonzero(same[i] & (np.arange(len(pool)) != own[i])), way - 1,
                                      replace=False) for i in ok])
        hits = _wins(scores[ok], own[ok], rivals, rng)
        out[f"{way}way"] = {**_scored(hits, 1 / way, chunks, ok), "n_way": way,
                            "skipped_chunks": int(len(chunks) - len(ok))}
    return out


def _check(chunks: HeldOutChunks, recon: np.ndarray) -> None:
    """One line when the reconstructions do not match the chunks' truths."""
    if np.shape(recon) != np.shape(chunks.truth):
        raise ParameterError(f"reconstructions of shape {np.shape(recon)} must match the truths' "
                             f"{np.shape(chunks.truth)}")
    if chunks.truth.shape[1] % CHUNK_S:
        raise ParameterError(f"a chunk has {chunks.truth.shape[1]} frames: not {CHUNK_S} whole seconds")
