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
from reconstruct.rundir import STUDY_TRIALS, RunDir  # noqa: F401 - STUDY_TRIALS: a study's exact trials (docs/contracts.md)
from reconstruct.split import CHUNK_S


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
    run = RunDir.of(config)
    songs, targets = run.target_songs(), run.targets()
    return np.concatenate(np.asarray(targets[songs.index(song), chunk * CHUNK_S:(chunk + 1) * CHUNK_S]))


def selection_trials(config: RunConfig) -> list[dict]:
    """Trials from the run's selection.json: one per (match, foil) pair, X = the match's span."""
    path = RunDir.of(config).selection_file
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
    manifest_path = RunDir.of(config).manifest_file
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
    rec_of = {pair: i for i, pair in enumerate(RunDir.of(config).recordings())}
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
        run = RunDir.of(config)
        m, f = units_to_db(run.chunk_prediction(*t["match"])), units_to_db(run.chunk_prediction(*t["foil"]))
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
    if trials_path is None and RunDir.of(config).study_trials_file.exists():
        trials_path = RunDir.of(config).study_trials_file
    if trials_path is not None:
        return {"source": str(trials_path), **score_trials(config, file_trials(config, trials_path))}
    return {"source": "selection.json pairs (reconstruct.select.default_pairs, the study's cross-half foil "
                      "rule; version = the match's half)",
            **score_trials(config, selection_trials(config))}


# --- per foil kind, as heard (issue 25) ---------------------------------------------------------------------

FOIL_KINDS = ("different-song", "same-song")
IDENTITY_DIR = "identity_only"  # RUN/clips/identity_only/<song>.wav: each song's mean training spectrogram, rendered


def pair_kind(match: dict, foil: dict) -> str | None:
    """The kind of a (match, foil) pair of manifest clips as the study's design admits it: always another EEG
    participant; another song, or the same song at another position and onset. None: not admissible."""
    if foil["id"] == match["id"] or foil.get("eeg_participant") == match.get("eeg_participant"):
        return None
    if foil["song"] != match["song"]:
        return FOIL_KINDS[0]
    if foil.get("position") != match.get("position") and foil.get("onset_s") != match.get("onset_s"):
        return FOIL_KINDS[1]
    return None


def every_admissible_pair(clips: list[dict]) -> list[tuple[str, str, str, str]]:
    """(X, match, foil, kind) for every admissible pair of the study's reconstructions; X = the match's span."""
    recon = [c for c in clips if c["role"] == "reconstruction"]
    out = []
    for m in recon:
        for f in recon:
            kind = pair_kind(m, f)
            if kind is not None:
                out.append((m["target"], m["id"], f["id"], kind))
    return out


def kinds_of(clips: list[dict], triples: list[tuple[str, str, str]]) -> list[tuple[str, str, str, str]]:
    """The study's (X, match, foil) triples with their foil kind ('same-song' when the foil is X's song)."""
    song = {c["id"]: c["song"] for c in clips}
    return [(x, m, f, FOIL_KINDS[1] if song[f] == song[m] else FOIL_KINDS[0]) for x, m, f in triples]


def observe_kinds(mel: dict[str, np.ndarray], trials: list[tuple[str, str, str, str]], *, seed: int = 0,
                  replace: dict[str, str] | None = None) -> dict[str, dict]:
    """Per foil kind, the as-heard ideal observer on these trials, with an exact 95% CI and one clustered two
    ways by match clip and foil clip (every pair reuses each clip many times). `replace` maps a clip id to
    the spectrogram key that stands in for it (the identity-only clips)."""
    replace = replace or {}
    out = {}
    for kind in FOIL_KINDS:
        rows = [t for t in trials if t[3] == kind]
        if not rows:
            continue
        clusters = ((np.array([m for _, m, _, _ in rows]), np.array([f for _, _, f, _ in rows]))
                    if len(rows) > 1 else None)
        out[kind] = ideal_observer([mel[x] for x, _, _, _ in rows],
                                   [mel[replace.get(m, m)] for _, m, _, _ in rows],
                                   [mel[replace.get(f, f)] for _, _, f, _ in rows],
                                   distance="correlation", seed=seed, clusters=clusters)
    return out


def song_mean_units(config: RunConfig, songs: list[str]) -> dict[str, np.ndarray]:
    """Each song's mean training (and validation) spectrogram in units, tiled over a 5-s clip: what knowing the
    song and nothing about time predicts (never a test second)."""
    from reconstruct.split import TRAIN, VAL

    run = RunDir.of(config)
    table = run.recordings()
    names, targets = run.target_songs(), run.targets()
    split = RunDir.of(config).split()
    roles = split.example_roles().reshape(len(table), split.used_s)
    out = {}
    for s in songs:
        seconds = np.unique(np.concatenate([np.flatnonzero(np.isin(roles[r], [TRAIN, VAL]))
                                            for r, (_, song) in enumerate(table) if song == s]))
        out[s] = np.tile(np.asarray(targets[names.index(s), seconds]).mean(axis=0), (CHUNK_S, 1))
    return out


def identity_clip_spectra(config: RunConfig, songs: list[str]) -> dict[str, np.ndarray]:
    """Render each song's mean training spectrogram as the clips are rendered (Eq. 1 with the song's ref_dB,
    Griffin-Lim, equal loudness), write it to RUN/clips/identity_only/, and return its log-mel as heard."""
    import soundfile as sf

    from reconstruct.features import spectrogram_db
    from reconstruct.invert import invert_batch
    from reconstruct.loudness import normalize_clips
    from reconstruct.recording import AUDIO_SR

    means = song_mean_units(config, songs)
    refs = RunDir.of(config).summary("features")["ref_db"]
    length = CHUNK_S * AUDIO_SR
    audio = invert_batch(np.stack([means[s] for s in songs]), np.array([refs[s] for s in songs]),
                         kind=config.target_kind, length=length, config=config.inversion)
    audio, _ = normalize_clips(audio)
    folder = RunDir.of(config).clips / IDENTITY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for s, y in zip(songs, audio):
        sf.write(folder / f"{s}.wav", y, AUDIO_SR, subtype="PCM_16")
        out[s] = spectrogram_db(y, kind="mel").T
    return out


def foil_kind_lines(clips: list[dict], mel: dict[str, np.ndarray], identity: dict[str, np.ndarray], *,
                    study: list[tuple[str, str, str]] | None = None, seed: int = 0) -> dict:
    """Per foil kind, as heard: the ideal observer over every admissible pair of the study's clips (and on the
    study's own trials when given), beside the same observer on identity-only clips (each reconstruction
    replaced by its song's rendered mean spectrogram)."""
    song = {c["id"]: c["song"] for c in clips}
    spectra = {**mel, **{f"identity:{s}": v for s, v in identity.items()}}
    as_identity = {cid: f"identity:{s}" for cid, s in song.items() if s in identity}
    pairs = every_admissible_pair(clips)
    sets = {"every_pair": (pairs, None), "identity_every_pair": (pairs, as_identity)}
    if study is not None:
        trials = kinds_of(clips, study)
        sets |= {"study_trials": (trials, None), "identity_study_trials": (trials, as_identity)}
    kinds: dict[str, dict] = {k: {} for k in FOIL_KINDS}
    for name, (trials, replace) in sets.items():
        for kind, result in observe_kinds(spectra, trials, seed=seed, replace=replace).items():
            kinds[kind][name] = result
    return {"distance": "correlation (1 − Pearson r on the level-relative log-mel of the rendered audio)",
            "identity": "each reconstruction replaced by its song's mean training spectrogram, rendered like "
                        "the clips (match and foil of a same-song trial are then one clip: a coin flip)",
            "tie_seed": seed, "kinds": {k: v for k, v in kinds.items() if v}}


def format_kind_lines(lines: dict) -> list[str]:
    """Human lines: per kind, the observer on the study's trials and over every pair, beside identity alone."""
    def fmt(o: dict | None) -> str:
        if not o:
            return "n/a"
        text = f"{o['correct']}/{o['n']} = {o['accuracy']:.1%} [{o['ci95'][0]:.1%}, {o['ci95'][1]:.1%}]"
        if o.get("ci95_clustered"):
            text += f" (clustered [{o['ci95_clustered'][0]:.1%}, {o['ci95_clustered'][1]:.1%}])"
        return text
    out = []
    for kind, k in lines.get("kinds", {}).items():
        what = "song identity" if kind == FOIL_KINDS[0] else "time within the song"
        if "study_trials" in k:
            out.append(f"  {kind} ({what}), the study's trials, as heard: {fmt(k['study_trials'])}; identity "
                       f"alone {fmt(k.get('identity_study_trials'))}")
        out.append(f"  {kind} ({what}), every admissible pair, as heard: {fmt(k.get('every_pair'))}; identity "
                   f"alone {fmt(k.get('identity_every_pair'))}")
    return out


def run_kind_lines(config: RunConfig, *, trials_path: Path | None = None) -> dict:
    """The observer lines of a finished run: every admissible pair of its clips and, with a design file (what
    `tuneback experiment trials` writes), the study's own trials; identity from RUN/clips/identity_only/."""
    from reconstruct.features import clip_log_mel

    run = RunDir.of(config)
    clips_dir, manifest_path = run.clips, run.manifest_file
    if not manifest_path.exists():
        raise ReconstructError(f"{manifest_path} is missing: render the clips first")
    clips = json.loads(manifest_path.read_text())["clips"]
    mel = {c["id"]: clip_log_mel(clips_dir / c["file"]) for c in clips}
    songs = sorted({c["song"] for c in clips})
    folder = clips_dir / IDENTITY_DIR
    if all((folder / f"{s}.wav").exists() for s in songs):
        identity = {s: clip_log_mel(folder / f"{s}.wav") for s in songs}
    else:
        identity = identity_clip_spectra(config, songs)
    study = None
    if trials_path is not None:
        try:
            design = json.loads(Path(trials_path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ReconstructError(f"cannot read trials from {trials_path}: {exc}") from None
        ids = {c["id"] for c in clips}
        study = [(t["target"], t["match"], t["foil"]) for v in design.get("versions", []) for t in v.get("trials", [])
                 if not t.get("practice")]
        unknown = sorted({k for t in study for k in t} - ids)
        if unknown or not study:
            raise ReconstructError(f"{trials_path}: " + (f"clips {', '.join(unknown[:5])} are not in {manifest_path}"
                                                          if unknown else "no scored trials"))
    lines = foil_kind_lines(clips, mel, identity, study=study, seed=config.select_seed)
    return {**lines, "source": str(trials_path) if trials_path else "every admissible pair of " + str(manifest_path)}
