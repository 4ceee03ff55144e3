"""Stage 7, Evaluate: everything `tuneback reconstruct evaluate` computes, as one function.

``evaluate(config, ...)`` resumes the run up to its predictions, scores them (song ID, SSIM/PSNR,
ideal observer, spectrogram pictures) and, on request, the ridge baseline, the four Table-2 pairs, the
two controls and the scale sweep, each in a sub-run of ``<run_dir>/evaluation/``. It returns a result
whose ``json`` part goes to evaluation.json and whose ``arrays`` feed the plots.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reconstruct.config import DEFAULT_SNR, RunConfig
from reconstruct.decoders.registry import get_decoder
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.classifier import (
    ClassifierConfig,
    cached_classifier,
    score_reconstructions,
)
from reconstruct.evaluation.controls import (
    chunk_shuffled_config,
    noise_only_config,
    shuffled_config,
    time_scrambled_config,
    time_shifted_config,
)
from reconstruct.evaluation.data import RunExamples, load_run_examples
from reconstruct.evaluation.field_metrics import field_evidence, format_field
from reconstruct.evaluation.fingerprint import fingerprint_control, format_fingerprint
from reconstruct.evaluation.metrics import (
    PSNR_CAP_DB,
    bin_metrics,
    example_metrics,
    summarize,
)
from reconstruct.evaluation.runs import (
    derived_config,
    ensure_predictions,
    evaluation_dir,
)
from reconstruct.evaluation.stats import family_at_chance
from reconstruct.evaluation.time_specific import TIME_MEASURES, time_specific_evidence
from reconstruct.recording import one_song_per_participant
from reconstruct.split import CHUNK_S
from reconstruct.rundir import RunDir

PAPER_TABLE2 = {("psd", "mel"): 0.8080, ("psd", "linear"): 0.7228, ("raw", "mel"): 0.4607,
                ("raw", "linear"): 0.3753}
NULL_CONTROLS = ("noise_only", "shuffled_chunks", "time_scrambled")  # the controls that must be at chance
_NAMES = {"psd": "PSD", "raw": "Raw", "mel": "mel", "linear": "linear"}


@dataclass
class EvaluationOptions:
    """What to compute beyond the main run's own scores."""

    baseline: bool = True
    table2: bool = False
    controls: bool = False
    sweep: bool = False
    trials_path: Path | None = None
    shuffle_seed: int = 0
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    sweep_snrs: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6)
    sweep_minutes: tuple[float | None, ...] = (None,)
    sweep_decoder: str = "ridge"
    sweep_participants: int | None = None
    n_pictures: int = 4
    envelope_recordings: int = 3


@dataclass
class EvaluationResult:
    """The JSON-able figures and the arrays behind the plots."""

    json: dict
    arrays: dict


def label_of(config: RunConfig) -> str:
    """E.g. 'PSD→mel (cnn)'."""
    return f"{_NAMES[config.input_kind]}→{_NAMES[config.target_kind]} ({config.decoder})"


def score_run(config: RunConfig, *, classifier: ClassifierConfig, cache_dir: Path, per_bin: bool = True,
              log: Callable[[str], None] = lambda _: None) -> tuple[dict, dict, RunExamples]:
    """Song ID + SSIM/PSNR of one run's test reconstructions: (JSON part, arrays, examples)."""
    ex = load_run_examples(config)
    started = time.perf_counter()
    clf = cached_classifier(ex.train_x, ex.train_labels, ex.songs, config=classifier, cache_dir=cache_dir)
    song_id = score_reconstructions(clf, ex.test_recon, ex.test_labels, chunk_ids=ex.test_chunk)
    on_truth = score_reconstructions(clf, ex.test_true, ex.test_labels, chunk_ids=ex.test_chunk)
    ex_metrics = example_metrics(ex.test_true, ex.test_recon)
    arrays = {"ssim": ex_metrics["ssim"], "psnr": ex_metrics["psnr"]}
    out = {
        "label": label_of(config), "run_dir": str(config.run_dir), "input": config.input_kind,
        "target": config.target_kind, "decoder": config.decoder,
        "train": RunDir.of(config).summary("train"), "test_mse": RunDir.of(config).summary("predict")["test_mse"],
        "song_id": song_id,
        "classifier": {"n_train_examples": len(ex.train_x),
                       "trained_on": "true spectra of training and validation seconds only",
                       "seen_test_seconds": ex.seen_test_seconds(),
                       "accuracy_on_true_test_spectra": on_truth["per_example"]["accuracy"]},
        "split": {k: v for k, v in RunDir.of(config).summary("split").items() if k in ("scope", "guard_s", "overlap")},
        "ssim": summarize(ex_metrics["ssim"]), "psnr_db": summarize(ex_metrics["psnr"], cap=PSNR_CAP_DB),
        "time_specific": time_specific_evidence(config),
    }
    if per_bin:
        bins = bin_metrics(ex.test_true, ex.test_recon)
        arrays.update(bin_ssim=bins["ssim"], bin_psnr=bins["psnr"])
        out["per_bin_mean"] = {"ssim": bins["ssim"].mean(axis=0).round(5).tolist(),
                               "psnr_db": np.minimum(bins["psnr"], PSNR_CAP_DB).mean(axis=0).round(3).tolist()}
    ts = out["time_specific"]["decoder"]
    log(f"[evaluate] {out['label']} in {config.run_dir}: song ID {song_id['per_example']['accuracy']:.1%} "
        f"per second, {song_id['per_chunk']['accuracy']:.1%} per chunk; same-song observer "
        f"{ts['same_song']['accuracy']:.1%}, top-1 span {ts['span_id']['top1']['accuracy']:.1%}; "
        f"SSIM {out['ssim']['mean']:.3f}, "
        f"PSNR {out['psnr_db']['mean']:.2f} dB ({time.perf_counter() - started:.0f} s)")
    return out, arrays, ex


def run_envelope_r(config: RunConfig, *, n: int = 3) -> dict:
    """The stimulus-envelope backward-model r on the run's first `n` recordings (their own 240 s)."""
    from reconstruct.evaluation.envelope import envelope_r_summary
    eeg = RunDir.of(config).eeg()
    table = RunDir.of(config).recordings()[:n]
    return envelope_r_summary([np.asarray(eeg[i], np.float64) for i in range(len(table))],
                              [RunDir.of(config).song_audio(s) for _, s in table])


def pictures(config: RunConfig, ex: RunExamples, *, n: int, seed: int = 0) -> list[dict]:
    """Paper Fig. 5's choice: per song (up to `n`), a random recording's test chunk nearest the 10th second."""
    table = [p for p, _ in RunDir.of(config).recordings()]
    rng = np.random.default_rng(seed)
    out = []
    for label in range(min(n, ex.n_songs)):
        recs = np.unique(ex.test_recording[ex.test_labels == label])
        if not len(recs):
            continue
        rec = int(rng.choice(recs))
        mask = ex.test_recording == rec
        chunks = np.unique(ex.test_second[mask] // CHUNK_S)
        chunk = int(chunks[np.argmin(np.abs(chunks * CHUNK_S + CHUNK_S / 2 - 10))])
        sel = mask & (ex.test_second // CHUNK_S == chunk)
        order = np.argsort(ex.test_second[sel])
        out.append({"title": f"{ex.songs[label]}, {table[rec]}, {chunk * CHUNK_S}–{(chunk + 1) * CHUNK_S} s",
                    "song": ex.songs[label], "recording": rec, "chunk": chunk,
                    "target": np.concatenate(ex.test_true[sel][order]),
                    "reconstruction": np.concatenate(ex.test_recon[sel][order])})
    return out


def _control_summary(scored: dict, *, time_only: bool = False) -> dict:
    """A control's figures and its verdict: song ID and the time-specific measures at chance (only the
    latter for a control that keeps song identity on purpose, the time-misaligned one)."""
    keep = ("label", "run_dir", "decoder", "song_id", "ssim", "psnr_db", "test_mse", "classifier", "time_specific")
    out = {k: scored[k] for k in keep}
    time_ok = all(v for m, v in scored["time_specific"]["at_chance"].items() if m in TIME_MEASURES)
    song_ok = bool(scored["song_id"]["per_example"]["at_chance"] and scored["song_id"]["per_chunk"]["at_chance"])
    out["at_chance_time_specific"] = bool(time_ok)
    out["at_chance_uncorrected"] = bool(time_ok if time_only else time_ok and song_ok)
    out["at_chance"] = out["at_chance_uncorrected"]  # until the family verdict (`_family_verdict`) replaces it
    ts = scored["time_specific"]["decoder"]
    counts = {m: ts["span_id"][m] if m.startswith("top") else {**ts[m], "chance": 0.5}
              for m in scored["time_specific"]["at_chance"] if m in TIME_MEASURES}
    if not time_only:
        counts.update({f"song_id_{k}": scored["song_id"][k] for k in ("per_example", "per_chunk")})
    out["judged_on"] = {m: [int(c["correct"]), int(c["n"]), float(c["chance"])] for m, c in counts.items()}
    return out


def _family_verdict(controls: dict, *, alpha: float = 0.05) -> dict:
    """Judge every null control's checks together (Bonferroni over all of them): each control's
    ``at_chance`` then says whether chance lies inside every one of its checks' family-wise intervals."""
    where = [(name, decoder, m) for name in NULL_CONTROLS for decoder, x in controls[name].items()
             if isinstance(x, dict) for m in x["judged_on"]]
    verdicts, level = family_at_chance([controls[n][d]["judged_on"][m] for n, d, m in where], alpha=alpha)
    for name, decoder, _ in where:
        controls[name][decoder]["at_chance"] = True
    for (name, decoder, _), ok in zip(where, verdicts):
        controls[name][decoder]["at_chance"] &= bool(ok)
    return {"method": "Bonferroni", "alpha": alpha, "n_checks": len(where), "level": level}


def evaluate(config: RunConfig, options: EvaluationOptions | None = None, *, progress: bool = True,
             log: Callable[[str], None] = print) -> EvaluationResult:
    """Compute every figure of stage 7 for the run `config` (see the module docstring)."""
    options = options or EvaluationOptions()
    started = time.perf_counter()
    out_dir = evaluation_dir(config)
    cache = out_dir / "classifiers"
    clf = options.classifier
    ensure_predictions(config, progress=progress, log=log)
    dataset = RunDir.of(config).summary("load")
    n_songs = len(RunDir.of(config).summary("features")["songs"])
    result: dict = {
        "schema": "tuneback.evaluation/1",
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_dir": str(config.run_dir),
        "dataset": {"name": dataset["name"], "simulated": dataset["simulated"], "n_songs": n_songs,
                    "n_participants": len(dataset["participants"]), "n_recordings": dataset["n_recordings"],
                    **({"snr": config.simulation.snr, "default_snr": DEFAULT_SNR} if dataset["simulated"] else {})},
        "chance": 1 / n_songs,
        "config": config.to_dict(),
        "classifier_config": clf.to_dict(),
    }
    arrays: dict = {}
    if options.envelope_recordings:
        result["dataset"]["envelope_r"] = run_envelope_r(config, n=options.envelope_recordings)
        log(f"[evaluate] stimulus-envelope backward model: r = {result['dataset']['envelope_r']['mean_r']:.3f} "
            f"(real EEG, speech: ≈ 0.15-0.19)")
    main, main_arrays, ex = score_run(config, classifier=clf, cache_dir=cache, log=log)
    result["main"] = main
    arrays["main"] = main_arrays
    arrays["pictures"] = pictures(config, ex, n=options.n_pictures)
    result["pictures"] = [{k: v for k, v in p.items() if k not in ("target", "reconstruction")}
                          for p in arrays["pictures"]]
    del ex

    main["field"] = field_evidence(config, seed=config.select_seed)
    for line in format_field(main["field"]):
        log(f"[evaluate] field {line.strip()}")
    if options.baseline and config.decoder != "ridge":
        ridge = ensure_predictions(derived_config(config, "ridge", decoder="ridge"), base=config, log=log)
        result["baseline"], arrays["baseline"], _ = score_run(ridge, classifier=clf, cache_dir=cache, log=log)
        result["baseline"]["field"] = field_evidence(ridge, seed=config.select_seed)

    result["observer"] = _observer(config, options, progress=progress, log=log)
    result["fingerprint"] = fingerprint_control(config, decoder=main["time_specific"]["decoder"])
    for line in format_fingerprint(result["fingerprint"]):
        log(f"[evaluate] {line}")

    if options.table2:
        rows, arrays["table2"] = [], {}
        for input_kind in ("psd", "raw"):
            for target_kind in ("mel", "linear"):
                same = (input_kind, target_kind) == (config.input_kind, config.target_kind)
                sub = config if same else ensure_predictions(
                    derived_config(config, f"table2-{input_kind}-{target_kind}", input_kind=input_kind,
                                   target_kind=target_kind), base=config, progress=progress, log=log)
                scored, arr, _ = score_run(sub, classifier=clf, cache_dir=cache, per_bin=False, log=log)
                scored.pop("per_bin_mean", None)
                scored["paper_accuracy"] = PAPER_TABLE2[(input_kind, target_kind)]
                rows.append(scored)
                arrays["table2"][scored["label"]] = arr
        result["table2"] = rows

    if options.controls:
        result["controls"] = _controls(config, options, cache=cache, progress=progress, log=log)

    if options.sweep:
        from dataclasses import replace

        from reconstruct.evaluation.sweep import SweepConfig, run_sweep
        sim = config.simulation
        if options.sweep_participants:
            sim = replace(sim, n_participants=options.sweep_participants)
        sweep_cfg = SweepConfig(simulation=sim, snrs=options.sweep_snrs, minutes=options.sweep_minutes,
                                decoder=options.sweep_decoder, ridge_alpha=config.ridge_alpha, train=config.train,
                                input_kind=None if get_decoder(options.sweep_decoder).input_required
                                else config.input_kind, target_kind=config.target_kind,
                                split_seed=config.split_seed, split_scope=config.split_scope, classifier=clf,
                                settings=config)
        result["sweep"] = run_sweep(sweep_cfg, out_dir=out_dir / "sweep", progress=progress, log=log)

    result["seconds"] = round(time.perf_counter() - started, 1)
    return EvaluationResult(json=result, arrays=arrays)


def _observer(config: RunConfig, options: EvaluationOptions, *, progress: bool, log: Callable[[str], None]) -> dict:
    from reconstruct.errors import ParameterError
    from reconstruct.evaluation.observer import ideal_observer_report
    from reconstruct.run import run_all
    try:
        run_all(config, until="render" if options.trials_path else "select", progress=progress, log=log)
        return ideal_observer_report(config, trials_path=options.trials_path)
    except (ParameterError, ReconstructError) as exc:
        log(f"[evaluate] ideal observer skipped: {exc}")
        return {"skipped": str(exc)}


def _controls(config: RunConfig, options: EvaluationOptions, *, cache: Path, progress: bool,
              log: Callable[[str], None]) -> dict:
    decoders = [config.decoder] + (["ridge"] if options.baseline and config.decoder != "ridge" else [])
    out: dict = {"noise_only": {}, "shuffled_chunks": {}, "time_scrambled": {}, "time_shifted": {},
                 "shuffled_songs": {}}
    songs = RunDir.of(config).summary("features")["songs"]
    heard = np.array([songs.index(s) for _, s in RunDir.of(config).recordings()])
    one_song = one_song_per_participant(RunDir.of(config).recordings())  # NMED-H: the EEG's make-up names the song

    def score(sub: RunConfig, *, time_only: bool = False) -> tuple[dict, RunExamples]:
        scored, _, ex = score_run(sub, classifier=options.classifier, cache_dir=cache, per_bin=False, log=log)
        return _control_summary(scored, time_only=time_only), ex

    for decoder in decoders:
        if config.dataset == "simulated":
            noise = noise_only_config(config, decoder=decoder)
            base = noise_only_config(config) if decoder != config.decoder else None
            ensure_predictions(noise, base=base, progress=progress, log=log)
            out["noise_only"][decoder], _ = score(noise, time_only=one_song)
        else:
            out["noise_only"] = {"skipped": "real EEG: no noise-only version exists (see shuffled_chunks)"}
        chunks = ensure_predictions(chunk_shuffled_config(config, seed=options.shuffle_seed, decoder=decoder),
                                    progress=progress, log=log)
        out["shuffled_chunks"][decoder], _ = score(chunks)
        scrambled = ensure_predictions(time_scrambled_config(config, seed=options.shuffle_seed, decoder=decoder),
                                       progress=progress, log=log)
        out["time_scrambled"][decoder], _ = score(scrambled, time_only=True)
        shifted = ensure_predictions(time_shifted_config(config, seed=options.shuffle_seed, decoder=decoder),
                                     progress=progress, log=log)
        out["time_shifted"][decoder], _ = score(shifted, time_only=True)
        out["time_shifted"][decoder]["diagnostic"] = True
        songs_run = ensure_predictions(shuffled_config(config, seed=options.shuffle_seed, decoder=decoder),
                                       progress=progress, log=log)
        summary, sex = score(songs_run)
        summary["diagnostic"] = True
        summary["accuracy_vs_heard_song"] = _heard_accuracy(sex, heard[sex.test_recording], options, cache)
        out["shuffled_songs"][decoder] = summary
    out["family"] = _family_verdict(out)
    verdicts = [v["at_chance"] for name in NULL_CONTROLS
                for v in out[name].values() if isinstance(v, dict)]
    out["all_at_chance"] = bool(all(verdicts)) if verdicts else None
    out["notes"] = {
        "noise_only": "simulated set at SNR 0, same seeds and split: no stimulus in the EEG" + (
            "; judged on the time-specific measures only, since with one song per participant the EEG's "
            "make-up alone names the song (see fingerprint)" if one_song else ""),
        "shuffled_chunks": "real EEG and labels; chunks handed around within participant and split role, "
                           "so a recording holds EEG of random songs at random times: the EEG-music pairing is "
                           "broken; must be at chance on song ID and on the time-specific measures",
        "time_scrambled": "time-misaligned: every chunk paired with the same recording's EEG of another time "
                          "of its song (one seeded permutation of chunk times per song, no chunk within 1 of its "
                          "own), then retrained: song identity survives, timing does not; must be at chance on "
                          "the time-specific measures (same-song observer, top-k span identification)",
        "time_shifted": "every recording's EEG shifted circularly by the same whole number of chunks, then "
                        "retrained. Diagnostic, not a null: with a steady tempo and a repeating chord cycle the "
                        "music a fixed time later is a function of the music now, so a decoder can learn the "
                        "shifted pairing from the stimulus; not part of all_at_chance",
        "shuffled_songs": "each recording trained/tested against another song (deranged within participant). "
                          "Diagnostic, not a null: a within-participant decoder can learn the remapping from the "
                          "stimulus (participant p, song A -> song B); not part of all_at_chance",
    }
    return out


def _heard_accuracy(ex: RunExamples, heard: np.ndarray, options: EvaluationOptions, cache: Path) -> dict:
    """Song ID of the shuffled run's reconstructions scored against the songs the EEG actually heard."""
    clf = cached_classifier(ex.train_x, ex.train_labels, ex.songs, config=options.classifier, cache_dir=cache)
    return score_reconstructions(clf, ex.test_recon, heard, chunk_ids=ex.test_chunk)["per_example"]
