"""The field's metrics, so a lab can place a run beside the literature (issue 28): N-way segment identification
among every test segment of the data set (N = 2, 10, 50, all; 1-, 3-, 5-s windows) with bits/min, song ID
from 3-s windows, 2- and 5-way match-mismatch on 5 s (ICASSP Auditory EEG Challenge), and Pearson r per mel
band with a time-shift null (mTRF). Each for the decoder and for the song-mean baseline, beside chance.
"""

from __future__ import annotations

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ParameterError
from reconstruct.evaluation.band_r import band_correlations
from reconstruct.evaluation.identification import (HOP_S, MM_WAYS, WAYS, WINDOWS_S, match_mismatch,
                                                   segment_identification, song_identification, song_templates)
from reconstruct.evaluation.stats import family_at_chance
from reconstruct.evaluation.time_specific import HeldOutChunks, load_test_chunks, song_mean_baseline

LITERATURE = {
    "segment_id": "Qing et al. 2026 (NMED-T/H): 50-way, EEG2Mel 0.259, theirs 0.487; Défossez et al. 2023: "
                  "top-10 among >1000 3-s segments 17.7–25.7 %",
    "song_id_3s": "PredANN++ 2026 (NMED-T): song among 10 from 3 s of EEG 0.82–0.88",
    "match_mismatch": "ICASSP Auditory EEG Challenge 2023/2024: match-mismatch, 5-way on 5 s",
    "band_r": "ICASSP challenge: mel r 0.04 (envelope r 0.19 seen / 0.10 unseen subjects); mTRF permutation null",
}


def field_metrics(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0,
                  templates: dict[str, np.ndarray] | None = None, n_null: int = 999) -> dict:
    """Every field metric of one set of 5-s reconstructions [shape=(n, 5 × frames, bins)], training units.
    Song ID needs `templates` (each song's training-only spectrogram, `song_templates`); without them it is
    skipped."""
    out = {"segment_id": {f"{w}s": segment_identification(chunks, recon, seed=seed, window_s=w, hop_s=HOP_S)
                          for w in WINDOWS_S},
           "match_mismatch": match_mismatch(chunks, recon, seed=seed),
           "band_r": band_correlations(chunks, recon, seed=seed, n_null=n_null), "seed": seed}
    out["song_id_3s"] = (song_identification(chunks, recon, templates=templates, seed=seed) if templates
                         else {"skipped": "no training-only song templates given"})
    return out


def field_evidence(config: RunConfig, *, seed: int = 0, chunks: HeldOutChunks | None = None,
                   baseline: np.ndarray | None = None) -> dict:
    """A finished run's field metrics for its decoder and the song-mean baseline, side by side (`chunks`,
    `baseline`: already read by the caller)."""
    chunks = load_test_chunks(config) if chunks is None else chunks
    baseline = song_mean_baseline(config, chunks) if baseline is None else baseline
    templates = song_templates(chunks, baseline)
    return {"decoder": field_metrics(chunks, chunks.recon, seed=seed, templates=templates),
            "song_mean_baseline": field_metrics(chunks, baseline, seed=seed, templates=templates),
            "n_test_chunks": len(chunks), "literature": LITERATURE}


def accuracy_checks(scores: dict) -> dict[str, dict]:
    """Every accuracy metric of `field_metrics`' output by a flat name (e.g. 'id50_3s', 'mm5'), skipped ones out."""
    out = {}
    for win, ways in scores["segment_id"].items():
        for way in map(str, WAYS):
            if "accuracy" in ways.get(way, {}):
                out[f"id{way}_{win}"] = ways[way]
    for way in MM_WAYS:
        if "accuracy" in scores["match_mismatch"].get(f"{way}way", {}):
            out[f"mm{way}"] = scores["match_mismatch"][f"{way}way"]
    if "accuracy" in scores["song_id_3s"]:
        out["song_id_3s"] = scores["song_id_3s"]
    return out


def field_at_chance(scores: dict, *, alpha: float = 0.05, time_only: bool = False) -> dict[str, bool]:
    """Per metric: is it at chance, each judged on a Bonferroni interval over the whole family (so that a true
    null passes with probability >= 1 − alpha)? Band r: its pooled null p above alpha / m.
    `time_only` leaves song ID out (the song-mean baseline passes it by design)."""
    checks = {k: v for k, v in accuracy_checks(scores).items() if not (time_only and k == "song_id_3s")}
    m = len(checks) + ("p_mean_r" in scores["band_r"])
    verdicts, _ = family_at_chance([(v["correct"], v["n"], v["chance"]) for v in checks.values()],
                                   alpha=alpha * len(checks) / max(m, 1))
    out = dict(zip(checks, verdicts))
    if "p_mean_r" in scores["band_r"]:
        if 1 / (1 + scores["band_r"]["n_null"]) >= alpha / m:
            raise ParameterError(f"n_null={scores['band_r']['n_null']} shifts cannot reach p < {alpha / m:.2g}: "
                                 f"the band-r null could never fail; use n_null >= {int(np.ceil(m / alpha))}")
        out["band_r"] = bool(scores["band_r"]["p_mean_r"] >= alpha / m)
    return out


SUMMARY_KEYS = ("id50_3s", "idall_5s", "song_id_3s", "mm2", "mm5")


def field_summary(scores: dict) -> dict:
    """The comparison table's compact block: the headline accuracies with CIs and chance, bits/min, band r."""
    checks = accuracy_checks(scores)
    out = {k: {"accuracy": checks[k]["accuracy"], "ci95": checks[k]["ci"], "chance": checks[k]["chance"],
               "ci95_clustered": checks[k]["ci_clustered"]} for k in SUMMARY_KEYS if k in checks}
    for k in ("id50_3s", "idall_5s"):
        if k in out:
            way, win = k[2:].split("_")
            out[k]["bits_per_min"] = scores["segment_id"][win][way]["bits_per_min"]
            out[k]["n_way"] = scores["segment_id"][win][way]["n_way"]
    band = scores["band_r"]
    if "mean_r" in band:
        out["band_r"] = {"mean_r": band["mean_r"], "null_p95": band["null_mean_r_p95"], "p": band["p_mean_r"],
                         "n_bands_above_null95": band["n_bands_above_null95"], "n_bands": band["n_bands"]}
    return out


def format_field(ev: dict) -> list[str]:
    """Human lines: each headline field metric of the decoder beside the song-mean baseline and chance."""
    dec, base = field_summary(ev["decoder"]), field_summary(ev["song_mean_baseline"])
    lines = []
    for key in SUMMARY_KEYS:
        if key in dec:
            d, b = dec[key], base.get(key, {})
            bits = f", {d['bits_per_min']:.1f} bits/min" if "bits_per_min" in d else ""
            lines.append(f"  {key:11s} {d['accuracy']:6.1%} (95% CI {d['ci95'][0]:.1%}-{d['ci95'][1]:.1%}, chance "
                         f"{d['chance']:.1%}{bits}); song-mean baseline {b.get('accuracy', float('nan')):.1%}")
    if "band_r" in dec:
        d = dec["band_r"]
        lines.append(f"  band r      mean {d['mean_r']:.3f} (time-shift null 95th pct {d['null_p95']:.3f}, "
                     f"p {d['p']:.2g}; {d['n_bands_above_null95']} of {d['n_bands']} bands above it); "
                     f"song-mean baseline {base.get('band_r', {}).get('mean_r', float('nan')):.3f}")
    return lines
