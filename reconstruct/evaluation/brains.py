"""How many brains it takes: a test span reconstructed from the average of N participants' decoded spectra.

On designs where several participants heard the same song (NMED-H: 12 per song, and the split is per song,
so every participant of a song shares that song's test spans), average N participants' reconstructions of
each test span and score the averaged spectra as N grows (N = 1, 2, 4, 12): what a lab needs to plan a study.

* **Test side only.** Only test chunks' reconstructions are averaged: rows whose role is not ``test`` are
  dropped (and counted) before anything else, so no reconstruction of a span a model trained on enters.
* **N counts brains.** A participant's recordings of a song (two presentations) are averaged first.
* **Draws.** Per N and song, ``min(C(n, N), draws)`` seeded subsets of N participants (every subset where there
  are no more); one subset is used for every span of its song, so a same-song foil is averaged over the same
  brains. N above the participants available per song is skipped, with the reason.
* **Scorers.** Any ``(HeldOutChunks, recon) -> dict`` callable; every sub-dict with ``accuracy``, ``n``,
  ``correct`` and ``chance`` is a measure, its exact 95% CI pooled over the draws; every other float is kept
  as a value (e.g. a mean band r). Defaults: the same- and
  different-song observers and top-k span identification of `time_specific`. The song-mean baseline does not
  change with N: one line.

From the command line, on a finished run (writes brains.{json,md,png}, default under RUN_DIR/evaluation)::

    tuneback reconstruct brains --run-dir RUN [the run's options] [--ns 1,2,4,12] [--draws 12] [--seed S]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import combinations
from math import comb

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ParameterError, ReconstructError
from reconstruct.evaluation.stats import accuracy_vs_chance
from reconstruct.evaluation.time_specific import HeldOutChunks, observers, span_identification
from reconstruct.split import TEST

Scorer = Callable[[HeldOutChunks, np.ndarray], dict]
NS = (1, 2, 4, 12)
DRAWS = 12
SCHEMA = "tuneback.brains_curve/1"
NOTES = {
    "test_side_only": "only test chunks' reconstructions are averaged; rows of any other role are dropped first "
                      "(never a reconstruction of a span any model trained or validated on)",
    "ci": "exact 95% CI pooled over the draws: each averaged span of each draw is one trial, but spans of "
          "different draws share their truth (and, for N near the participants available, most of their "
          "brains), so the exact CI is on spans and optimistic; the clustered CI clusters by true span and subset",
    "song_mean_baseline": "the song's mean training spectrogram: it does not change with N",
}


def default_scorers(*, seed: int = 0) -> dict[str, Scorer]:
    """The time-specific measures: the same- and different-song observers (chance 50%) and top-k span ID."""
    def observe(chunks: HeldOutChunks, recon: np.ndarray) -> dict:
        return {k: {**v, "chance": 0.5} for k, v in observers(chunks, recon, seed=seed).items()}
    return {"observer": observe, "span_id": lambda chunks, recon: span_identification(chunks, recon)}


def _take(chunks: HeldOutChunks, rows: np.ndarray, recon: np.ndarray | None = None) -> HeldOutChunks:
    return HeldOutChunks(chunks.recording[rows], chunks.participant[rows], chunks.song[rows], chunks.chunk[rows],
                         chunks.recon[rows] if recon is None else recon, chunks.truth[rows])


def per_brain(chunks: HeldOutChunks, *, roles: np.ndarray | None = None) -> tuple[HeldOutChunks, dict]:
    """Test rows only, each participant's recordings of a span averaged into one row (N counts brains)."""
    roles = np.full(len(chunks), TEST) if roles is None else np.asarray(roles).astype(str)
    if len(roles) != len(chunks):
        raise ParameterError(f"roles has {len(roles)} entries for {len(chunks)} chunks")
    test = _take(chunks, np.flatnonzero(roles == TEST))
    if not len(test):
        raise ReconstructError("no test chunk to average: the curve over N needs a run's test chunks")
    keys = [(p, s, c) for p, s, c in zip(test.participant, test.song, test.chunk)]
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    first = np.array([rows[0] for rows in groups.values()])
    recon = np.stack([test.recon[rows].mean(axis=0) for rows in groups.values()])
    out = _take(test, first, recon)
    pairs = np.array([f"{p}\t{s}" for p, s in zip(out.participant, out.song)])
    out.recording = np.unique(pairs, return_inverse=True)[1]  # one "recording" per brain and song
    info = {"n_rows": len(chunks), "n_non_test_rows_dropped": int(len(chunks) - len(test)),
            "n_test_rows": len(test), "n_brain_spans": len(out),
            "max_recordings_per_brain_span": max(len(r) for r in groups.values())}
    return out, info


def shared_spans(brains: HeldOutChunks) -> dict[str, tuple[list[str], list[int]]]:
    """Per song, its participants and the test spans every one of them has (the spans averaging can use)."""
    out = {}
    for s in sorted(set(brains.song)):
        rows = brains.song == s
        people = sorted(set(brains.participant[rows]))
        spans = set.intersection(*(set(brains.chunk[rows & (brains.participant == p)]) for p in people))
        out[str(s)] = (people, sorted(int(c) for c in spans))
    return out


def draw_subsets(people: list[str], n: int, draws: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """`draws` distinct subsets of `n` people (every subset, in order, when there are no more than `draws`)."""
    if comb(len(people), n) <= draws:
        return list(combinations(people, n))
    seen: set[tuple[str, ...]] = set()
    out = []
    while len(out) < draws:
        pick = tuple(sorted(rng.choice(people, size=n, replace=False).tolist()))
        if pick not in seen:
            seen.add(pick)
            out.append(pick)
    return out


def average_subsets(brains: HeldOutChunks, spans: dict, subsets: dict[str, list[tuple[str, ...]]]) -> HeldOutChunks:
    """One row per (draw, song, span): the mean of the subset's reconstructions; recording = (draw, song),
    participant = the subset's label, so a same-song foil comes from the same brains."""
    index = {(p, s, c): i for i, (p, s, c) in enumerate(zip(brains.participant, brains.song, brains.chunk))}
    rec, who, song, chunk, recon, truth = [], [], [], [], [], []
    for s, draws in subsets.items():
        for subset in draws:
            group = len(set(rec))
            for c in spans[s][1]:
                rows = [index[(p, s, c)] for p in subset]
                rec.append(group)
                who.append("+".join(subset))
                song.append(s)
                chunk.append(c)
                recon.append(brains.recon[rows].mean(axis=0))
                truth.append(brains.truth[rows[0]])
    return HeldOutChunks(np.array(rec), np.array(who), np.array(song), np.array(chunk), np.stack(recon),
                         np.stack(truth))


def flatten(scores: dict, prefix: str = "") -> tuple[dict[str, dict], dict[str, float]]:
    """A scorer's output, flat by path: every accuracy (a sub-dict with accuracy, n, correct and chance) with its
    exact 95% CI (and the clustered one where the scorer gave it), and every other float (e.g. a mean band r)."""
    accuracies: dict[str, dict] = {}
    values: dict[str, float] = {}
    for key, value in scores.items():
        name = f"{prefix}{key}"
        if isinstance(value, float):
            values[name] = value
        elif isinstance(value, dict) and {"accuracy", "n", "correct", "chance"} <= set(value):
            exact = accuracy_vs_chance(int(value["correct"]), int(value["n"]), float(value["chance"]))
            clustered = value.get("ci_clustered") or value.get("ci95_clustered")
            accuracies[name] = {k: exact[k] for k in ("accuracy", "ci", "chance", "n", "correct", "at_chance")}
            if clustered:
                accuracies[name]["ci_clustered"] = list(clustered)
        elif isinstance(value, dict):
            more, floats = flatten(value, f"{name}.")
            accuracies.update(more)
            values.update(floats)
    return accuracies, values


def score(chunks: HeldOutChunks, recon: np.ndarray, scorers: dict[str, Scorer]) -> dict[str, dict]:
    """Every scorer's accuracies ("measures") and other figures ("values") of one set of spectra, by
    '<scorer>.<path>'."""
    out: dict[str, dict] = {"measures": {}, "values": {}}
    for name, f in scorers.items():
        accuracies, values = flatten(f(chunks, recon), f"{name}.")
        out["measures"].update(accuracies)
        out["values"].update(values)
    return out


def _check(ns: tuple[int, ...], draws: int, chunks: HeldOutChunks, baseline: np.ndarray | None) -> None:
    if not ns or any(int(n) != n or n < 1 for n in ns):
        raise ParameterError(f"ns={list(ns)} must be whole numbers >= 1")
    if draws < 1:
        raise ParameterError(f"draws={draws} must be >= 1")
    if chunks.recon.shape != chunks.truth.shape:
        raise ParameterError(f"reconstructions {chunks.recon.shape} and truths {chunks.truth.shape} differ in shape")
    if baseline is not None and baseline.shape != chunks.truth.shape:
        raise ParameterError(f"baseline {baseline.shape} must have the truths' shape {chunks.truth.shape}")


def brains_curve(chunks: HeldOutChunks, *, scorers: dict[str, Scorer] | None = None, ns: tuple[int, ...] = NS,
                 draws: int = DRAWS, seed: int = 0, roles: np.ndarray | None = None,
                 baseline: np.ndarray | None = None) -> dict:
    """Every measure as a curve over N participants averaged, from a run's test chunks (see the module doc).

    `roles`: each row's split role (rows not ``test`` are dropped); `baseline`: the song-mean spectrum per row."""
    _check(tuple(ns), draws, chunks, baseline)
    scorers = scorers or default_scorers(seed=seed)
    brains, info = per_brain(chunks, roles=roles)
    spans = shared_spans(brains)
    available = min(len(people) for people, _ in spans.values())
    points, skipped = [], []
    for n in sorted(set(int(n) for n in ns)):
        if n > available:
            skipped.append({"n": n, "reason": f"N={n} > {available} participants available per song "
                                              f"(fewest of any song)"})
            continue
        r = min(comb(available, n), draws)
        rng = np.random.default_rng([seed, n])
        subsets = {s: draw_subsets(people, n, r, rng) for s, (people, _) in spans.items()}
        averaged = average_subsets(brains, spans, subsets)
        points.append({"n": n, "draws": r, "n_averaged_spans": len(averaged), "subsets": subsets,
                       **score(averaged, averaged.recon, scorers)})
    out = {"schema": SCHEMA, "ns_requested": sorted(set(int(n) for n in ns)), "draws_max": draws, "seed": seed,
           "scorers": list(scorers), "participants_per_song": {s: len(p) for s, (p, _) in spans.items()},
           "spans_per_song": {s: len(c) for s, (_, c) in spans.items()}, "rows": info,
           "points": points, "skipped": skipped, "notes": NOTES}
    if baseline is not None:
        one, _ = per_brain(replace(chunks, recon=baseline), roles=roles)
        out["song_mean_baseline"] = score(one, one.recon, scorers)
    return out


def run_brains_curve(config: RunConfig, *, scorers: dict[str, Scorer] | None = None, ns: tuple[int, ...] = NS,
                     draws: int = DRAWS, seed: int | None = None, chunks: HeldOutChunks | None = None,
                     baseline: np.ndarray | None = None) -> dict:
    """The curve over N for a finished run, its test chunks' roles checked against the run's split (`chunks`,
    `baseline`: the run's test chunks and their song-mean spectra when the caller has read them already)."""
    from reconstruct.evaluation.time_specific import load_test_chunks, song_mean_baseline
    from reconstruct.rundir import RunDir
    from reconstruct.stages import is_done

    if not is_done(config, "predict"):
        raise ReconstructError(f"{config.run_dir} has no predictions for these settings: run `tuneback reconstruct "
                               f"run --until predict` with them first")
    run = RunDir.of(config)
    chunks = load_test_chunks(config) if chunks is None else chunks
    baseline = song_mean_baseline(config, chunks) if baseline is None else baseline
    roles = run.split().chunk_roles[chunks.recording, chunks.chunk]
    seed = config.select_seed if seed is None else seed
    curve = brains_curve(chunks, scorers=scorers, ns=ns, draws=draws, seed=seed, roles=roles,
                         baseline=baseline)
    load = run.summary("load")
    return {**curve, "dataset": load["name"], "simulated": bool(load["simulated"]), "decoder": config.decoder,
            "run_dir": str(config.run_dir)}

