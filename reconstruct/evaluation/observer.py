"""Ideal observer on the study's AB-X trials: the ceiling that human listeners can be compared with.

For every trial it picks the candidate (match or foil reconstruction) closer to X, by two measures on
the spectrograms in training units: the mean squared difference (`reconstruct.observer.log_mel_distance`)
and SSIM (higher is closer). X is the true target of the match's 5-s span.

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
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.stats import accuracy_vs_chance
from reconstruct.observer import log_mel_distance
from reconstruct.pipeline import chunk_prediction, read_summary, recordings_table
from reconstruct.split import CHUNK_S

STUDY_TRIALS = "study_trials.json"  # a study's exact trials, next to the run's clips (see experiment.design_export)


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
        x = _true_span(config, *t["x"])
        m, f = chunk_prediction(config, *t["match"]), chunk_prediction(config, *t["foil"])
        closer["distance"].append(log_mel_distance(m, x) < log_mel_distance(f, x))
        closer["ssim"].append(_ssim(m, x) > _ssim(f, x))
    versions = sorted({t["version"] for t in trials if t["version"] is not None})
    out: dict = {"n_trials": len(trials)}
    for measure, wins in closer.items():
        wins = np.array(wins)
        out[measure] = accuracy_vs_chance(int(wins.sum()), len(wins), 0.5)
        out[measure]["per_version"] = {
            str(v): accuracy_vs_chance(int(wins[[t["version"] == v for t in trials]].sum()),
                                       sum(t["version"] == v for t in trials), 0.5) for v in versions}
    return out


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=1.0))


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
