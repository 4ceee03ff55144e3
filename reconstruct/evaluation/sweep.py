"""Scale sweep on the simulated set: SNR × training minutes → song-ID accuracy of the reconstructions.

It is the pipeline's method (features, split, decoder, classifier) run in memory, so that a grid of
points costs one simulation: the simulated EEG is ``sqrt(snr) · signal + noise`` with the random draws
made only for the noise, so signal and noise are simulated once and mixed per SNR; the result equals
`reconstruct.simulate.simulate_dataset` at that SNR (checked by the tests). "Training minutes" are
minutes of training chunks per recording, taken evenly across each recording's training chunks; the
test chunks, the validation chunks and the classifier (trained on the true spectra of the full
training split) stay the same at every point, so points differ only in the decoder's data.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from reconstruct import features as feat
from reconstruct.config import RunConfig, default_input, stage_hash
from reconstruct.decoders.registry import decoder_names, get_decoder
from reconstruct.decoding import check_input, predict_seconds, training_data
from reconstruct.errors import ParameterError
from reconstruct.evaluation.classifier import (
    ClassifierConfig,
    score_reconstructions,
    train_classifier,
)
from reconstruct.evaluation.metrics import PSNR_CAP_DB, psnr_batch, ssim_batch
from reconstruct.recording import EEG_FS
from reconstruct.simulate import SimulatedDataConfig, mix, simulate_parts, synthesize_songs
from reconstruct.split import CHUNK_S, TEST, TRAIN, USED_S, VAL, make_split
from reconstruct.train import TrainConfig


@dataclass(frozen=True)
class SweepConfig:
    """The grid and everything else that fixes a sweep's numbers."""

    simulation: SimulatedDataConfig = field(
        default_factory=lambda: SimulatedDataConfig(shape="nmedt", n_participants=4))
    snrs: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
    minutes: tuple[float | None, ...] = (None,)
    decoder: str = "ridge"
    ridge_alpha: float = 10.0
    train: TrainConfig = field(default_factory=TrainConfig)
    input_kind: str | None = None
    """None: the decoder's own input (`config.default_input`: PSD for cnn and ridge, raw for trf and temporal)."""
    target_kind: str = "mel"
    split_seed: int = 0
    split_scope: str = "song"
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    settings: RunConfig | None = None
    """Where the decoder's own settings (its `settings_field`: trf, temporal, ...) come from; None: the defaults."""

    def __post_init__(self) -> None:
        if self.decoder not in decoder_names():
            raise ParameterError(f"decoder={self.decoder!r} must be one of {list(decoder_names())}")
        if self.input_kind is None:
            object.__setattr__(self, "input_kind", default_input(self.decoder))
        check_input(get_decoder(self.decoder), self.input_kind)
        if not self.snrs or any(s < 0 for s in self.snrs):
            raise ParameterError(f"snrs={self.snrs} must be a non-empty list of values >= 0")
        if not self.minutes or any(m is not None and m <= 0 for m in self.minutes):
            raise ParameterError(f"minutes={self.minutes} must be > 0 (or None for all training chunks)")
        if self.simulation.duration_s < USED_S:
            raise ParameterError(f"simulation.duration_s={self.simulation.duration_s} must be >= {USED_S}")

    def to_dict(self) -> dict:
        """Plain dict for JSON: the decoder's own settings under their field name, none for cnn and ridge (so
        their points keep the keys they were cached under)."""
        d = asdict(replace(self, settings=None))
        d.pop("settings")
        d["simulation"] = self.simulation.to_dict()
        own = get_decoder(self.decoder).settings_field
        if own is not None:
            d[own] = asdict(getattr(self.settings or RunConfig(), own))
        return d


@dataclass
class SimulatedComponents:
    """One simulated set split into its parts: ``eeg(snr)`` rebuilds the recordings at any SNR."""

    table: list[tuple[str, str]]
    audio: dict[str, np.ndarray]
    signal: list[np.ndarray]
    noise: list[np.ndarray]

    def eeg(self, i: int, snr: float) -> np.ndarray:
        """Recording i [shape=(channels, USED_S·fs)] at `snr`, float32."""
        return mix(self.signal[i], self.noise[i], snr)


def simulate_components(config: SimulatedDataConfig, *, progress: bool = True) -> SimulatedComponents:
    """Simulate signal and noise separately, with exactly `simulate_dataset`'s random draws (first 240 s)."""
    songs = synthesize_songs(config, progress=progress)
    used = USED_S * EEG_FS
    table, signal, noise = [], [], []
    for part in simulate_parts(config, songs, held_out=False, progress=progress):
        table.append((part.participant, part.song))
        signal.append(part.signal[:, :used])
        noise.append(part.background[:, :used])
    return SimulatedComponents(table=table, audio=songs.audio, signal=signal, noise=noise)


def training_subset(train_idx: np.ndarray, minutes: float | None) -> np.ndarray:
    """Keep `minutes` of training chunks per recording, spread evenly over its training chunks."""
    if minutes is None:
        return train_idx
    keep_chunks = max(1, round(minutes * 60 / CHUNK_S))
    chunk_of = train_idx // CHUNK_S
    rec_of = train_idx // USED_S
    kept = []
    for rec in np.unique(rec_of):
        chunks = np.unique(chunk_of[rec_of == rec])
        if len(chunks) > keep_chunks:
            chunks = chunks[np.unique(np.round(np.linspace(0, len(chunks) - 1, keep_chunks)).astype(int))]
        kept.append(chunks)
    keep = np.concatenate(kept)
    return train_idx[np.isin(chunk_of, keep)]


def decoder_config(config: SweepConfig, model_dir: Path) -> RunConfig:
    """The run settings a decoder reads in the sweep: the sweep's own fields over `config.settings` (its
    `settings_field`, e.g. trf or temporal) or RunConfig's defaults."""
    base = config.settings or RunConfig()
    return replace(base, run_dir=model_dir.parent, simulation=config.simulation, decoder=config.decoder,
                   input_kind=config.input_kind, target_kind=config.target_kind, ridge_alpha=config.ridge_alpha,
                   train=config.train, split_seed=config.split_seed, split_scope=config.split_scope)


def _fit_predict(config: SweepConfig, inputs: np.ndarray, truth: Callable[[np.ndarray], np.ndarray],
                 tr: np.ndarray, va: np.ndarray, te: np.ndarray, participants: list[str], *,
                 progress: bool) -> np.ndarray:
    """Fit the registered decoder on training examples `tr` (validation `va`) and predict test examples `te`,
    through the Decoder interface exactly as the train and predict stages call it."""
    decoder = get_decoder(config.decoder)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        run = decoder_config(config, model_dir)
        decoder.train(training_data(decoder, run, inputs, tr, va, targets_of=truth, participants=participants,
                                    used_s=USED_S, model_dir=model_dir, progress=progress))
        model = decoder.load(model_dir, run)
        return predict_seconds(decoder, model, inputs, te, participants=participants, used_s=USED_S)


def _point_key(config: SweepConfig, snr: float, minutes: float | None) -> str:
    d = config.to_dict()
    d.pop("snrs"), d.pop("minutes")
    return stage_hash({**d, "snr": snr, "minutes": minutes})


def run_sweep(config: SweepConfig, *, out_dir: Path | None = None, progress: bool = True,
              log: Callable[[str], None] = lambda _: None, components: SimulatedComponents | None = None) -> dict:
    """Every (SNR, minutes) point's song-ID accuracy (per example and per chunk, exact CIs), SSIM and PSNR.

    With `out_dir`, finished points are kept in ``sweep_points.json`` and reused on a rerun;
    `components` (of ``config.simulation``) skips the simulation."""
    started = time.perf_counter()
    cache_path = Path(out_dir) / "sweep_points.json" if out_dir else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    grid = [(s, m) for m in config.minutes for s in config.snrs]
    todo = [(s, m) for s, m in grid if _point_key(config, s, m) not in cache]
    if todo:
        comps = components or simulate_components(replace(config.simulation, snr=0.0), progress=progress)
        songs = sorted(comps.audio)
        refs = {s: feat.auto_ref_db(comps.audio[s], kind=config.target_kind) for s in songs}
        targets = np.stack([feat.audio_targets(comps.audio[s], kind=config.target_kind, n_seconds=USED_S,
                                               ref_db=refs[s]) for s in songs])
        song_of = np.array([songs.index(s) for _, s in comps.table])
        split = make_split([s for _, s in comps.table], seed=config.split_seed, scope=config.split_scope)
        roles = split.example_roles()
        tr_all, va, te = (np.flatnonzero(roles == r) for r in (TRAIN, VAL, TEST))

        def truth(idx: np.ndarray) -> np.ndarray:
            return targets[song_of[idx // USED_S], idx % USED_S]

        fit = np.flatnonzero(np.isin(roles, [TRAIN, VAL]))
        pairs = np.unique(np.stack([song_of[fit // USED_S], fit % USED_S], axis=1), axis=0)
        clf = train_classifier(targets[pairs[:, 0], pairs[:, 1]], pairs[:, 0], songs, config=config.classifier)
        y_te = truth(te)
        labels = song_of[te // USED_S]
        chunk_ids = te // CHUNK_S
        by_snr: dict[float, list] = {}
        for s, m in todo:
            by_snr.setdefault(s, []).append(m)
        bar = tqdm(total=len(todo), desc="sweep", disable=not progress)
        for snr, minute_list in by_snr.items():
            inputs = np.concatenate([feat.eeg_input(comps.eeg(i, snr), kind=config.input_kind, n_seconds=USED_S)
                                     for i in range(len(comps.table))])
            for minutes in minute_list:
                t0 = time.perf_counter()
                tr = training_subset(tr_all, minutes)
                recon = _fit_predict(config, inputs, truth, tr, va, te, [p for p, _ in comps.table],
                                     progress=False)
                score = score_reconstructions(clf, recon, labels, chunk_ids=chunk_ids)
                point = {"snr": snr, "minutes_per_recording": minutes if minutes is not None else
                         round(len(np.unique(tr // CHUNK_S)) * CHUNK_S / 60 / len(comps.table), 3),
                         "all_training_chunks": minutes is None, "n_train_examples": len(tr),
                         "train_minutes_total": round(len(tr) / 60, 2),
                         "per_example": score["per_example"], "per_chunk": score["per_chunk"],
                         "ssim_mean": float(ssim_batch(y_te, recon, axes=(1, 2)).mean()),
                         "psnr_mean_db": float(np.minimum(psnr_batch(y_te, recon, axes=(1, 2)), PSNR_CAP_DB).mean()),
                         "seconds": round(time.perf_counter() - t0, 1)}
                cache[_point_key(config, snr, minutes)] = point
                log(f"[sweep] snr={snr:g} minutes={point['minutes_per_recording']}: "
                    f"{point['per_example']['accuracy']:.1%} ({point['seconds']:.0f} s)")
                if cache_path:
                    cache_path.parent.mkdir(parents=True, exist_ok=True)
                    cache_path.write_text(json.dumps(cache, indent=2))
                bar.update(1)
            del inputs
        bar.close()
    points = [cache[_point_key(config, s, m)] for s, m in grid]
    n_songs = config.simulation.songs
    return {"config": config.to_dict(), "simulated": True, "dataset": config.simulation.name.replace(
                f"-snr{config.simulation.snr:g}", ""),
            "n_songs": n_songs, "n_participants": config.simulation.participants, "chance": 1 / n_songs,
            "decoder": config.decoder, "points": points,
            "snr_for_80pct": snr_for_accuracy(points, 0.8),
            "snr_for_80pct_per_chunk": snr_for_accuracy(points, 0.8, key="per_chunk"),
            "seconds": round(time.perf_counter() - started, 1)}


def snr_for_accuracy(points: list[dict], target: float, *, key: str = "per_example") -> dict | None:
    """The SNR at which accuracy (all training chunks) first reaches `target`, by linear interpolation in
    SNR between the bracketing points; None when no point reaches it."""
    full = sorted((p for p in points if p["all_training_chunks"]), key=lambda p: p["snr"])
    for lo, hi in itertools.pairwise(full):
        a, b = lo[key]["accuracy"], hi[key]["accuracy"]
        if a < target <= b:
            snr = lo["snr"] + (target - a) / (b - a) * (hi["snr"] - lo["snr"])
            return {"target": target, "snr": round(float(snr), 4), "between": [lo["snr"], hi["snr"]]}
    if full and full[0][key]["accuracy"] >= target:
        return {"target": target, "snr": full[0]["snr"], "between": [full[0]["snr"], full[0]["snr"]]}
    return None
