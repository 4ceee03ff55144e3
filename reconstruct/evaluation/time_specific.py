"""Time-specific evidence: does a reconstruction carry *when* in its song it was heard, not just which song?

A different-song foil tests song identity, which a decoder can get from a song's average sound (or, on
the NMED-H design, from recognising the participant). Three measures on every test chunk of a run, all on
level-relative spectrograms (`observer.correlation_distance`):

* **different-song observer**: X (the true 5-s span) against its reconstruction and a reconstruction of
  another song (same participant where the design has one), chance 50%;
* **same-song observer**: X against its reconstruction and the same recording's reconstruction of another
  test span of the same song, chance 50%;
* **top-k span identification**: the reconstruction against the true spans of all its song's test chunks;
  a hit when its own span ranks in the top k, chance k / number of spans.

Each carries an exact binomial 95% CI and, beside it, a CI clustered two ways, by true span (the
participants of a song share its test spans' targets) and by participant (a participant's chunks share
their EEG's make-up), since the chunks are not independent trials.

Each is reported beside the **song-mean baseline**: every reconstruction replaced by the mean training
spectrogram of its song. The baseline knows the song and nothing about time, so it scores high on the
different-song observer and at chance on the time-specific ones; a figure is evidence of decoding the
music only where it beats the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.evaluation.observer import RANGE_DB, ideal_observer, song_mean_units, units_to_db
from reconstruct.evaluation.stats import accuracy_vs_chance, two_way_cluster_ci
from reconstruct.rundir import RunDir
from reconstruct.split import CHUNK_S

TOP_K = (1, 3)
TIME_MEASURES = ("same_song", "top1", "top3")  # the measures that song identity alone cannot pass


@dataclass
class HeldOutChunks:
    """Every test chunk of a run: where it comes from, its reconstruction and its true span (units)."""

    recording: np.ndarray
    participant: np.ndarray
    song: np.ndarray
    chunk: np.ndarray
    recon: np.ndarray
    truth: np.ndarray

    def __len__(self) -> int:
        return len(self.chunk)

    def clusters(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Two labels per chunk for the clustered CI: its true span (song, chunk) and its participant."""
        rows = np.arange(len(self)) if rows is None else rows
        span = np.array([f"{s}#{c}" for s, c in zip(self.song[rows], self.chunk[rows])])
        return span, self.participant[rows].astype(str)


def load_test_chunks(config: RunConfig) -> HeldOutChunks:
    """The run's test chunks, each a 5-s spectrogram [shape=(n, 5 × frames, bins)], recording-major."""
    table, used = RunDir.of(config).recordings(), RunDir.of(config).used_s()
    pred, index = RunDir.of(config).predictions()
    starts = np.flatnonzero(index % CHUNK_S == 0)
    rec, sec = index[starts] // used, index[starts] % used
    song = np.array([table[r][1] for r in rec])
    recon = np.stack([np.concatenate(np.asarray(pred[i:i + CHUNK_S])) for i in starts])
    truth = true_spans(config, song, sec)
    return HeldOutChunks(recording=rec, participant=np.array([table[r][0] for r in rec]), song=song,
                      chunk=sec // CHUNK_S, recon=recon, truth=truth)


def true_spans(config: RunConfig, songs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The true 5-s spectrogram of each (song, start second) [shape=(n, 5 × frames, bins)], units."""
    run = RunDir.of(config)
    names, targets = run.target_songs(), run.targets()
    return np.stack([np.concatenate(np.asarray(targets[names.index(s), t:t + CHUNK_S])) for s, t in zip(songs, starts)])


def song_mean_baseline(config: RunConfig, chunks: HeldOutChunks) -> np.ndarray:
    """Each test chunk replaced by its song's mean training spectrogram, tiled over the chunk's 5 s."""
    means = song_mean_units(config, sorted(set(chunks.song)))
    return np.stack([means[s] for s in chunks.song])


def _standardised(spectra: np.ndarray) -> np.ndarray:
    """Level-relative, flattened, z-scored rows: dot products / size are then Pearson correlations."""
    db = units_to_db(np.asarray(spectra)).reshape(len(spectra), -1)
    flat = np.maximum(db, db.max(axis=1, keepdims=True) - RANGE_DB)  # level_relative, every row at once
    flat -= flat.mean(axis=1, keepdims=True)
    sd = flat.std(axis=1, keepdims=True)
    return np.divide(flat, sd, out=np.zeros_like(flat), where=sd > 0) / np.sqrt(flat.shape[1])


def span_identification(chunks: HeldOutChunks, recon: np.ndarray, *, ks: tuple[int, ...] = TOP_K) -> dict:
    """Top-k identification of each reconstruction's span among its song's test spans, vs chance k/n."""
    q = _standardised(recon)
    out: dict = {}
    ranks, n_candidates = np.zeros(len(chunks), int), np.zeros(len(chunks), int)
    for s in np.unique(chunks.song):
        rows = np.flatnonzero(chunks.song == s)
        spans, first = np.unique(chunks.chunk[rows], return_index=True)
        cand = _standardised(chunks.truth[rows[first]])
        r = q[rows] @ cand.T  # correlation of each reconstruction with each candidate span
        own = r[np.arange(len(rows)), np.searchsorted(spans, chunks.chunk[rows])]
        ranks[rows] = (r > own[:, None]).sum(axis=1) + 1
        n_candidates[rows] = len(spans)
    clusters = chunks.clusters()
    for k in ks:
        if k >= n_candidates.min():
            continue  # every span is in the top k: a measure that cannot fail
        chance = float(np.mean(k / n_candidates))
        hits = ranks <= k
        out[f"top{k}"] = {**accuracy_vs_chance(int(hits.sum()), len(ranks), chance),
                          "ci_clustered": two_way_cluster_ci(hits, *clusters)}
    out["n_candidates_per_song"] = {str(s): int(n_candidates[chunks.song == s][0]) for s in np.unique(chunks.song)}
    out["median_rank"] = float(np.median(ranks))
    return out


def _foils(chunks: HeldOutChunks, *, same_song: bool, rng: np.random.Generator) -> np.ndarray:
    """Per test chunk, the index of its foil: the same recording at another span (same song), or a chunk
    of another song (the same participant's where there is one)."""
    foils = np.full(len(chunks), -1)
    for i in range(len(chunks)):
        if same_song:
            pool = np.flatnonzero((chunks.recording == chunks.recording[i]) & (chunks.chunk != chunks.chunk[i]))
        else:
            other = chunks.song != chunks.song[i]
            pool = np.flatnonzero(other & (chunks.participant == chunks.participant[i]))
            pool = pool if len(pool) else np.flatnonzero(other)
        if len(pool):
            foils[i] = rng.choice(pool)
    return foils


def observers(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0) -> dict:
    """The different-song and same-song ideal observers over every test chunk (one seeded foil each)."""
    truth_db = [units_to_db(t) for t in chunks.truth]
    recon_db = [units_to_db(r) for r in recon]
    out = {}
    for name, same in (("different_song", False), ("same_song", True)):
        foils = _foils(chunks, same_song=same, rng=np.random.default_rng(seed))
        ok = np.flatnonzero(foils >= 0)
        out[name] = ideal_observer([truth_db[i] for i in ok], [recon_db[i] for i in ok],
                                   [recon_db[foils[i]] for i in ok], distance="correlation", seed=seed,
                                   clusters=chunks.clusters(ok))
        out[name]["foil_seed"] = seed
    return out


def score_spectra(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0) -> dict:
    """All time-specific and song-identity measures of one set of reconstructions."""
    return {**observers(chunks, recon, seed=seed), "span_id": span_identification(chunks, recon)}


def time_specific_evidence(config: RunConfig, *, seed: int = 0, chunks: HeldOutChunks | None = None,
                           baseline: np.ndarray | None = None) -> dict:
    """The run's reconstructions and the song-mean baseline, scored side by side, with the verdicts (`chunks`,
    `baseline`: the run's test chunks and their song-mean spectra when the caller has read them already)."""
    chunks = load_test_chunks(config) if chunks is None else chunks
    baseline = song_mean_baseline(config, chunks) if baseline is None else baseline
    decoder = score_spectra(chunks, chunks.recon, seed=seed)
    baseline = score_spectra(chunks, baseline, seed=seed)
    return {"n_test_chunks": len(chunks), "decoder": decoder, "song_mean_baseline": baseline,
            "beats_baseline": beats_baseline(decoder, baseline), "at_chance": at_chance(decoder),
            "measures": MEASURES}


MEASURES = {
    "different_song": "X vs its reconstruction and another song's (song identity; chance 50%)",
    "same_song": "X vs its reconstruction and the same recording's reconstruction of another span of the same "
                 "song (time-specific; chance 50%)",
    "top1": "own span ranked first among the song's test spans (time-specific; chance 1/number of spans)",
    "top3": "own span in the top 3 of the song's test spans (time-specific; chance 3/number of spans)",
}


def _present(scores: dict) -> list[str]:
    """The measures a set of scores has (top-k only where a song has more than k test spans)."""
    return [m for m in MEASURES if m in scores or m in scores["span_id"]]


def _measure(scores: dict, name: str) -> dict:
    if name in ("top1", "top3"):
        s = scores["span_id"][name]
        return {"accuracy": s["accuracy"], "ci_low": s["ci"][0], "at_chance": s["at_chance"], "chance": s["chance"]}
    s = scores[name]
    return {"accuracy": s["accuracy"], "ci_low": s["ci95"][0], "at_chance": s["chance_in_ci95"],
            "chance": s.get("chance", 0.5)}


def beats_baseline(decoder: dict, baseline: dict) -> dict[str, bool]:
    """Per measure: is the decoder's lower 95% bound above both the song-mean baseline's accuracy and chance?
    (On the same-song observer the baseline sits *below* chance, its match and foil being identical: beating
    it alone is no evidence.)"""
    def beats(m: str) -> bool:
        d, b = _measure(decoder, m), _measure(baseline, m)
        return bool(d["ci_low"] > max(b["accuracy"], d["chance"]))
    return {m: beats(m) for m in _present(decoder)}


def at_chance(scores: dict) -> dict[str, bool]:
    """Per measure: does chance lie inside the 95% CI (what a control must show on the time measures)?"""
    return {m: bool(_measure(scores, m)["at_chance"]) for m in _present(scores)}


def format_evidence(ev: dict) -> list[str]:
    """Human lines: each measure, the baseline beside it, and what it means."""
    lines = []
    for m in _present(ev["decoder"]):
        d, b = _measure(ev["decoder"], m), _measure(ev["song_mean_baseline"], m)
        src = ev["decoder"]["span_id"][m] if m.startswith("top") else ev["decoder"][m]
        ci = src.get("ci") or src.get("ci95")
        clustered = src.get("ci_clustered") or src.get("ci95_clustered")
        chance = src.get("chance", 0.5)
        verdict = ("beats chance and the song-mean baseline" if ev["beats_baseline"][m]
                   else "does NOT beat both chance and the song-mean baseline")
        wide = f"; clustered {clustered[0]:.1%}-{clustered[1]:.1%}" if clustered else ""
        lines.append(f"  {m.replace('_', '-'):15s} {d['accuracy']:6.1%} (95% CI {ci[0]:.1%}-{ci[1]:.1%}{wide}, "
                     f"chance {chance:.1%}); song-mean baseline {b['accuracy']:.1%}: {verdict}")
    return lines
