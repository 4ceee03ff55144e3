"""Ideal observer on the study's AB-X trials: the ceiling that human listeners can be compared with.

The one observer module: the distances, the AB-X ideal observer on any spectrograms, and the scoring of a
study's exact trials. Spectrograms are compared on a **level-relative** dynamic range (the top 80 dB of
each, `level_relative`), never on the −100 dB floor, so silent stretches cannot decide a trial: the
distance is 1 − Pearson r there; SSIM on the same range goes alongside. X is the true target of the
match's 5-s span.

Trials come from

* a JSON file (``--trials``, or ``RUN/study_trials.json`` when present): what ``tuneback experiment
  trials --study N --out FILE`` writes from the study's database (the demo writes it for its study), or
  the experiment's design, ``dataclasses.asdict(build_design(...))`` with
  ``versions[].trials[]`` holding ``target``/``match``/``foil`` clip ids of ``clips/manifest.json``, a
  plain list of such objects (optional ``version``), or a list of ``[target, match, foil]`` id triples
  (what the study's trial_template rows give); practice trials are left out. This is the way to
  score exactly the trials listeners get::

      python -c "import json, dataclasses; from experiment.manifest import load_manifest; \\
      from experiment.design import build_design; m = load_manifest('RUN/clips/manifest.json'); \\
      print(json.dumps(dataclasses.asdict(build_design(m.clips, seed=0))))" > trials.json

* otherwise the run's own ``selection.json`` pairs (`reconstruct.select.default_pairs`, which follows the
  study's default cross-half foil rule; version = the match's half). The experiment draws its own
  pairing with its own seed, so only a design file gives exactly the trials listeners get.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity

from reconstruct.config import RunConfig
from reconstruct.features import MAX_DB
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.stats import accuracy_vs_chance, two_way_cluster_ci
from reconstruct.pipeline import chunk_prediction, read_summary, recordings_table
from reconstruct.split import CHUNK_S

STUDY_TRIALS = "study_trials.json"  # a study's exact trials, next to the run's clips (see experiment.design_export)


RANGE_DB = 80.0  # the dynamic range compared: the top 80 dB of each spectrogram


def level_relative(db: np.ndarray, *, range_db: float = RANGE_DB) -> np.ndarray:
    """A dB spectrogram floored `range_db` below its own maximum: its loud part, whatever its floor."""
    db = np.asarray(db, dtype=np.float64)
    return np.maximum(db, db.max() - range_db)


def units_to_db(t: np.ndarray) -> np.ndarray:
    """Training units t in [0, 1] back to dB up to a constant (which level_relative ignores)."""
    return np.asarray(t, dtype=np.float64) * MAX_DB


def log_mel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two spectrograms in the same units [shape=(frames, bins)]."""
    frames = min(len(a), len(b))
    return float(np.mean((np.asarray(a[:frames], np.float64) - b[:frames]) ** 2))


def correlation_distance(a_db: np.ndarray, b_db: np.ndarray, *, range_db: float = RANGE_DB) -> float:
    """1 − Pearson r of two dB spectrograms on their level-relative ranges: blind to overall level (which
    loudness normalisation removes from what listeners hear) and to how deep their silences go."""
    frames = min(len(a_db), len(b_db))
    a = level_relative(a_db[:frames], range_db=range_db).ravel()
    b = level_relative(b_db[:frames], range_db=range_db).ravel()
    if a.std() == 0 or b.std() == 0:
        return 1.0
    return float(1.0 - np.corrcoef(a, b)[0, 1])


def ssim_db(a_db: np.ndarray, b_db: np.ndarray, *, range_db: float = RANGE_DB) -> float:
    """SSIM of two dB spectrograms, each on its level-relative range scaled to [0, 1] (higher is closer)."""
    frames = min(len(a_db), len(b_db))
    a = (level_relative(a_db[:frames], range_db=range_db) - np.max(a_db[:frames])) / range_db + 1
    b = (level_relative(b_db[:frames], range_db=range_db) - np.max(b_db[:frames])) / range_db + 1
    return float(structural_similarity(a, b, data_range=1.0))


DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mse": log_mel_distance, "correlation": correlation_distance,
    "ssim": lambda a, b: -ssim_db(a, b)}


def ideal_observer(targets: list[np.ndarray], matches: list[np.ndarray], foils: list[np.ndarray], *,
                   distance: str = "correlation", seed: int = 0,
                   clusters: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Share of trials where the match is closer to X than the foil, with an exact 95% CI and p vs 0.5.

    A tie (match and foil equally close, e.g. two identical song-mean spectrograms) is a coin flip from
    `seed`, as a listener who hears no difference must guess. With `clusters` (two labels per trial, e.g.
    its true span and its participant) a two-way clustered 95% CI is added beside the exact one."""
    d = DISTANCES[distance]
    rng = np.random.default_rng(seed)
    dm = np.array([d(m, x) for x, m in zip(targets, matches)])
    df = np.array([d(f, x) for x, f in zip(targets, foils)])
    ties = dm == df
    wins = (dm < df) | (ties & (rng.random(len(dm)) < 0.5))
    n, k = len(wins), int(wins.sum())
    out = {"distance": distance, "n": n, "correct": k, "ties": int(ties.sum()), "tie_seed": seed}
    if not n:
        return {**out, "accuracy": float("nan"), "ci95": None, "p_two_sided": None, "chance_in_ci95": None}
    stats = accuracy_vs_chance(k, n, 0.5)
    if clusters is not None:
        out["ci95_clustered"] = two_way_cluster_ci(wins, *clusters)
    return {**out, "accuracy": k / n, "ci95": stats["ci"], "p_two_sided": stats["p_two_sided"],
            "p_greater": stats["p_greater"], "chance_in_ci95": stats["at_chance"]}


def _true_span(config: RunConfig, song: str, chunk: int) -> np.ndarray:
    songs = read_summary(config, "features")["songs"]
    targets = np.load(Path(config.run_dir) / "features" / "targets.npy", mmap_mode="r")
    return np.concatenate(np.asarray(targets[songs.index(song), chunk * CHUNK_S:(chunk + 1) * CHUNK_S]))


def selection_trials(config: RunConfig) -> list[dict]:
    """Trials from the run's selection.json: one per (match, foil) pair, X = the match's span."""
    path = Path(config.run_dir) / "selection.json"
    if not path.exists():
        raise ReconstructError(f"{path} is missing: run `tuneback reconstruct select` first")
    data = json.loads(path.read_text())
    choices = data["choices"]
    trials = []
    for m, f in data["pairs"]:
        cm, cf = choices[m], choices[f]
        trials.append({"version": cm["half"], "song": cm["song"], "foil_song": cf["song"],
                       "x": (cm["song"], cm["chunk"]), "match": (cm["recording"], cm["chunk"]),
                       "foil": (cf["recording"], cf["chunk"])})
    return trials


def file_trials(config: RunConfig, path: Path) -> list[dict]:
    """Trials from a design JSON, resolved through the run's clips/manifest.json."""
    manifest_path = Path(config.run_dir) / "clips" / "manifest.json"
    if not manifest_path.exists():
        raise ReconstructError(f"{manifest_path} is missing: render the clips before scoring a design file")
    try:
        design = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReconstructError(f"cannot read trials from {path}: {exc}") from None
    if isinstance(design, dict) and "versions" in design:
        raw = [{**t, "version": t.get("version", v.get("number"))} for v in design["versions"]
               for t in v.get("trials", [])]
    elif isinstance(design, list):
        raw = [dict(zip(("target", "match", "foil"), t)) if isinstance(t, (list, tuple)) and len(t) == 3 else t
               for t in design]
    else:
        raise ReconstructError(f"{path}: expected a design with 'versions' or a list of trials")
    clips = {c["id"]: c for c in json.loads(manifest_path.read_text())["clips"]}
    rec_of = {pair: i for i, pair in enumerate(recordings_table(config))}
    trials = []
    for t in raw:
        if not isinstance(t, dict):
            raise ReconstructError(f"{path}: a trial must be an object or a [target, match, foil] triple, got {t!r}")
        if t.get("practice"):
            continue
        try:
            m, f = clips[t["match"]], clips[t["foil"]]
        except KeyError as exc:
            raise ReconstructError(f"{path}: trial {t} names clip {exc} that the manifest does not have") from None
        x = clips.get(t.get("target")) or m

        def locate(c: dict) -> tuple[int, int]:
            key = (c["eeg_participant"], c["song"])
            if key not in rec_of:
                raise ReconstructError(f"{path}: clip {c['id']} comes from no recording of this run")
            return rec_of[key], round(c["onset_s"] / CHUNK_S)

        trials.append({"version": t.get("version"), "song": m["song"], "foil_song": f["song"],
                       "x": (x["song"], round(x["onset_s"] / CHUNK_S)), "match": locate(m),
                       "foil": locate(f)})
    if not trials:
        raise ReconstructError(f"{path} holds no scored (non-practice) trials")
    return trials


def score_trials(config: RunConfig, trials: list[dict]) -> dict:
    """Share of trials where the match is closer to X than the foil, by distance and by SSIM, with exact
    95% CIs against 0.5, overall and per version."""
    closer = {"distance": [], "ssim": []}
    for t in trials:
        x = units_to_db(_true_span(config, *t["x"]))
        m, f = units_to_db(chunk_prediction(config, *t["match"])), units_to_db(chunk_prediction(config, *t["foil"]))
        closer["distance"].append(correlation_distance(m, x) < correlation_distance(f, x))
        closer["ssim"].append(ssim_db(m, x) > ssim_db(f, x))
    versions = sorted({t["version"] for t in trials if t["version"] is not None})
    out: dict = {"n_trials": len(trials)}
    for measure, wins in closer.items():
        wins = np.array(wins)
        out[measure] = accuracy_vs_chance(int(wins.sum()), len(wins), 0.5)
        out[measure]["per_version"] = {
            str(v): accuracy_vs_chance(int(wins[[t["version"] == v for t in trials]].sum()),
                                       sum(t["version"] == v for t in trials), 0.5) for v in versions}
    return out


def ideal_observer_report(config: RunConfig, *, trials_path: Path | None = None) -> dict:
    """Score the trials of a design file (by default RUN/study_trials.json, which `tuneback demo` and
    `tuneback experiment trials` write), else the run's selection pairs; say which were used."""
    if trials_path is None and (Path(config.run_dir) / STUDY_TRIALS).exists():
        trials_path = Path(config.run_dir) / STUDY_TRIALS
    if trials_path is not None:
        return {"source": str(trials_path), **score_trials(config, file_trials(config, trials_path))}
    return {"source": "selection.json pairs (reconstruct.select.default_pairs, the study's cross-half foil "
                      "rule; version = the match's half)",
            **score_trials(config, selection_trials(config))}
