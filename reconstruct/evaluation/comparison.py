"""Every decoder side by side on one split and one set of measures, across an SNR sweep of the simulated set.

For each SNR, one simulated data set and one split (the honest one: a pattern per song) are shared by all
decoders (``cnn`` = the paper's pipeline, PSD → small CNN; ``ridge`` on the same PSD; ``trf`` = the
field's lagged backward model per participant; ``temporal`` = the 1-D conv decoder with ±1 s of context).
Each is an ordinary run dir under ``<out>/snr-<snr>/<decoder>/`` made by the pipeline's own stages, and
is scored on every test chunk by the different-song and same-song ideal observers, top-k span
identification, SSIM and PSNR, beside the song-mean baseline (a decoder's figure is evidence of decoding
the music only where its 95% CI lies above the baseline). Each SNR is given in the field's units too:
the stimulus-envelope backward-model r of its EEG.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from reconstruct.config import RunConfig, default_input
from reconstruct.decoders.registry import decoder_names
from reconstruct.errors import ParameterError
from reconstruct.evaluation.comparison_brains import brains_block, brains_markdown, brains_plot, is_block
from reconstruct.evaluation.comparison_field import field_beats, field_markdown, field_plot
from reconstruct.evaluation.field_metrics import field_evidence, field_summary
from reconstruct.evaluation.metrics import PSNR_CAP_DB, example_metrics
from reconstruct.evaluation.runs import share_upstream
from reconstruct.evaluation.time_specific import load_test_chunks, song_mean_baseline, time_specific_evidence
from reconstruct.rundir import RunDir

DECODER_LABELS = {"cnn": "paper pipeline: PSD → small CNN (Table 1 preset 'small')",
                  "ridge": "ridge on the PSD (the paper's baseline)",
                  "trf": "trf: lagged ridge per participant, raw EEG → mel frames (mTRF / MNE ReceptiveField)",
                  "temporal": "temporal: 1-D conv, per-participant spatial layer, ±1 s context",
                  "contrastive": "contrastive: subject layer, shared body, low-rank head + CLIP loss, 1-8 Hz",
                  "song_mean": "song-mean baseline (the song's mean training spectrogram)"}
MEASURE_KEYS = ("different_song", "same_song", "top1", "top3")


def measure_summary(scores: dict, name: str) -> dict:
    """Accuracy, 95 % CIs (exact; clustered where scored) and chance of one measure of `score_spectra`'s output."""
    s = scores["span_id"][name] if name.startswith("top") else scores[name]
    ci = s.get("ci") or s.get("ci95")
    clustered = s.get("ci_clustered") or s.get("ci95_clustered")
    return {"accuracy": s["accuracy"], "ci95": list(ci), "chance": s.get("chance", 0.5),
            **({"ci95_clustered": list(clustered)} if clustered else {})}


def _image_metrics(truth: np.ndarray, recon: np.ndarray) -> dict:
    """Mean SSIM and PSNR over 1-s examples of 5-s chunks [shape=(n, 5 × frames, bins)]."""
    t = truth.reshape(-1, truth.shape[1] // 5, truth.shape[2])
    r = recon.reshape(t.shape)
    m = example_metrics(t, r)
    return {"ssim": float(np.mean(m["ssim"])), "psnr_db": float(np.mean(np.minimum(m["psnr"], PSNR_CAP_DB)))}


def score_decoder_run(config: RunConfig) -> tuple[dict, dict]:
    """(the decoder's row, the song-mean baseline's row) on every test chunk of a finished run."""
    chunks = load_test_chunks(config)
    baseline = song_mean_baseline(config, chunks)
    ev = time_specific_evidence(config, seed=config.select_seed, chunks=chunks, baseline=baseline)
    field = field_evidence(config, seed=config.select_seed, chunks=chunks, baseline=baseline)
    rows = []
    for name, scores, recon in (("decoder", ev["decoder"], chunks.recon),
                                ("baseline", ev["song_mean_baseline"], baseline)):
        row = {m: measure_summary(scores, m) for m in MEASURE_KEYS if m in scores or m in scores["span_id"]}
        row.update(_image_metrics(chunks.truth, recon))
        row["field"] = field_summary(field["decoder" if name == "decoder" else "song_mean_baseline"])
        rows.append(row)
    rows[0]["beats_baseline"] = {m: ev["beats_baseline"][m] for m in rows[0] if m in MEASURE_KEYS}
    rows[0]["field"]["beats_baseline"] = field_beats(rows[0]["field"], rows[1]["field"])
    rows[0]["n_test_chunks"] = ev["n_test_chunks"]
    return rows[0], rows[1]


def compare_decoders(base: RunConfig, *, decoders: tuple[str, ...], snrs: tuple[float, ...], out_dir: Path,
                     envelope_recordings: int = 2, progress: bool = False, brains_snr: float | None = None,
                     log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every decoder at every SNR on the simulated set and score them side by side; at
    `brains_snr`, also every decoder's curve over N participants averaged (`comparison_brains`)."""
    from reconstruct.evaluation.evaluate import run_envelope_r
    from reconstruct.run import run_all
    out_dir = Path(out_dir)
    levels = []
    for snr in snrs:
        runs: list[RunConfig] = []
        level = {"snr": snr, "rows": []}
        for decoder in decoders:
            sub = base.with_(run_dir=out_dir / f"snr-{snr:g}" / decoder, decoder=decoder,
                             input_kind=default_input(decoder), simulation=replace(base.simulation, snr=snr))
            same = [r for r in runs if r.input_kind == sub.input_kind]
            if runs:
                share_upstream(same[0] if same else runs[0], sub)
            started = time.perf_counter()
            run_all(sub, until="predict", progress=progress, log=lambda _: None)
            runs.append(sub)
            row, baseline = score_decoder_run(sub)
            trained = RunDir.of(sub).stage_record("train")["seconds"]
            level["rows"].append({"decoder": decoder, **row, "train_seconds": trained})
            log(f"[compare] snr {snr:g} {decoder:9s} same-song {row['same_song']['accuracy']:.1%} top-1 "
                f"{row['top1']['accuracy']:.1%} different-song {row['different_song']['accuracy']:.1%} "
                f"({time.perf_counter() - started:.0f} s)")
        level["rows"].append({"decoder": "song_mean", **baseline})
        if envelope_recordings:
            level["envelope_r"] = run_envelope_r(runs[0], n=envelope_recordings)["mean_r"]
        level["dataset"] = RunDir.of(runs[0]).summary("load")["name"]
        level["eeg_digest"] = eeg_digest(runs[0])
        level["split"] = {k: v for k, v in RunDir.of(runs[0]).summary("split").items() if k in ("scope", "overlap")}
        if brains_snr is not None and np.isclose(snr, brains_snr):
            started = time.perf_counter()
            level["brains"] = brains_block({r.decoder: r for r in runs}, snr)
            log(f"[compare] snr {snr:g} curves over N participants averaged ({time.perf_counter() - started:.0f} s)")
        levels.append(level)
    return {"schema": "tuneback.decoder_comparison/1", "simulated": True, "decoders": list(decoders),
            "labels": {d: DECODER_LABELS[d] for d in (*decoders, "song_mean")}, "levels": levels,
            "simulation": base.simulation.to_dict(), "split_seed": base.split_seed, "train_seed": base.train.seed,
            "select_seed": base.select_seed,
            "note": "SIMULATED data. Each level: one simulated set and one honest split shared by every decoder; "
                    "every test chunk scored; 95% exact CIs; 'beats' = the decoder's lower CI bound above the "
                    "song-mean baseline's accuracy."}


def eeg_digest(config: RunConfig) -> str:
    """sha256 of the run's first recording's EEG: two levels share a data set only if this matches (settings
    alone cannot tell that the generator changed between two runs)."""
    import hashlib
    eeg = RunDir.of(config).eeg()
    return hashlib.sha256(np.ascontiguousarray(eeg[0]).tobytes()).hexdigest()


def merge_comparison(new: dict, old: dict) -> dict:
    """`new` plus the rows (and levels) of `old` for decoders `new` did not re-run, each kept row marked with the
    command that measured it: re-measure one changed decoder without re-training the others. A shared level must
    hold the very same EEG (`eeg_digest`) and seeds, or the rows would not share a test set."""
    same_setup = all(new.get(k) == old.get(k) for k in ("simulation", "split_seed", "train_seed", "select_seed"))
    if not same_setup:
        raise ParameterError("the earlier comparison used another simulation or seeds: its rows cannot be merged")
    rerun = set(new["decoders"])
    for fresh in new["levels"]:
        earlier = next((lv for lv in old["levels"] if lv["snr"] == fresh["snr"]), None)
        digest = earlier.get("eeg_digest") if earlier is not None else None
        if earlier is not None and (digest is None or digest != fresh.get("eeg_digest")):
            raise ParameterError(f"SNR {fresh['snr']:g}: the earlier rows were measured on other EEG (the generator "
                                 "or the data changed, or the earlier run recorded no digest): re-run every decoder")
    levels = []
    for level in sorted({lv["snr"] for lv in (*new["levels"], *old["levels"])}):
        fresh = next((lv for lv in new["levels"] if lv["snr"] == level), None)
        earlier = next((lv for lv in old["levels"] if lv["snr"] == level), None)
        kept = [{**row, "measured_by": row.get("measured_by", old.get("command"))} for row in
                (earlier or {}).get("rows", []) if (fresh is None or row["decoder"] not in rerun)
                and row["decoder"] != "song_mean"]  # a level not re-run here keeps every row it had
        base = fresh or earlier
        rows = [r for r in (fresh or {}).get("rows", []) if r["decoder"] != "song_mean"] + kept
        rows.sort(key=lambda r: decoder_names().index(r["decoder"]))
        rows += [r for r in base["rows"] if r["decoder"] == "song_mean"]
        merged = {**base, "rows": rows}
        curves = _merged_curves(fresh, earlier, rerun)
        if curves:
            merged["brains"] = {**((fresh or {}).get("brains") or earlier["brains"]), "curves": curves}
        levels.append(merged)
    decoders = [d for d in decoder_names() if d in rerun or d in old["decoders"]]
    return {**new, "decoders": decoders, "labels": {d: DECODER_LABELS[d] for d in (*decoders, "song_mean")},
            "levels": levels}


def _merged_curves(fresh: dict | None, earlier: dict | None, rerun: set[str]) -> dict:
    """A level's curves over N: the re-run decoders' new ones, the others' earlier ones (marked like their rows)."""
    new = (fresh or {}).get("brains") if is_block((fresh or {}).get("brains")) else None
    old = (earlier or {}).get("brains") if is_block((earlier or {}).get("brains")) else None
    curves = dict(new["curves"]) if new else {}
    for decoder, curve in (old["curves"] if old else {}).items():
        if decoder not in curves and (new is None or decoder not in rerun):
            curves[decoder] = curve
    return {d: curves[d] for d in decoder_names() if d in curves}


def _cell(m: dict | None) -> str:
    if not m:
        return "–"
    return f"{m['accuracy']:.1%} [{m['ci95'][0]:.1%}, {m['ci95'][1]:.1%}]".replace("%", "")


def comparison_markdown(result: dict) -> str:
    """The side-by-side table, one row per (SNR, decoder), the song-mean baseline under each SNR."""
    lines = ["| SNR (envelope r) | decoder | different-song % | same-song % | top-1 span % (chance) | top-3 span % | "
             "SSIM | PSNR dB | above chance and song-mean (time) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for level in result["levels"]:
        r = level.get("envelope_r")
        head = f"{level['snr']:g}" + (f" (r = {r:.2f})" if r is not None else "")
        for row in level["rows"]:
            top1 = row.get("top1")
            chance = f" ({top1['chance']:.1%})".replace("%", "") if top1 else ""
            beats = row.get("beats_baseline")
            verdict = "–" if beats is None else ", ".join(m.replace("_", "-") for m in ("same_song", "top1", "top3")
                                                          if beats.get(m)) or "no"
            mark = " †" if row.get("measured_by") else ""
            lines.append(f"| {head} | {row['decoder']}{mark} | {_cell(row.get('different_song'))} | "
                         f"{_cell(row.get('same_song'))} | {_cell(top1)}{chance} | {_cell(row.get('top3'))} | "
                         f"{row['ssim']:.3f} | {row['psnr_db']:.2f} | {verdict} |")
    earlier = sorted({row["measured_by"] for lv in result["levels"] for row in lv["rows"] if row.get("measured_by")})
    if earlier:
        lines.append("")
        lines.append(f"† measured by an earlier command on the same EEG, split and seeds (checked by digest): "
                     f"`{'`, `'.join(earlier)}`; the other rows: `{result.get('command', '')}`.")
    lines += ["", "### The field's metrics", "", field_markdown(result)]
    for level in result["levels"]:
        if is_block(level.get("brains")):
            lines += ["", "### How many brains it takes", "", brains_markdown(level["brains"])]
    return "\n".join(lines).rstrip("\n") + "\n"


def comparison_plot(result: dict) -> bytes:
    """Different-song, same-song and top-1 accuracy against SNR (labelled with envelope r), one line per
    decoder, the song-mean baseline dashed and chance dotted."""
    from reconstruct.evaluation.figures import _png, plt
    levels = result["levels"]
    x = np.arange(len(levels))
    labels = [f"{lv['snr']:g}" + (f"\nr={lv['envelope_r']:.2f}" if lv.get("envelope_r") is not None else "")
              for lv in levels]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True)
    for ax, (key, title) in zip(axes, (("different_song", "different-song observer (song identity)"),
                                       ("same_song", "same-song observer (time)"),
                                       ("top1", "top-1 span identification (time)"))):
        for decoder in [*result["decoders"], "song_mean"]:
            acc, lo, hi = [], [], []
            for lv in levels:
                m = next((r for r in lv["rows"] if r["decoder"] == decoder), {}).get(key)  # a level may lack one
                acc.append(m["accuracy"] if m else np.nan)
                lo.append(m["ci95"][0] if m else np.nan)
                hi.append(m["ci95"][1] if m else np.nan)
            style = {"ls": "--", "color": "grey"} if decoder == "song_mean" else {"marker": "o"}
            ax.plot(x, acc, label=decoder, **style)
            if decoder != "song_mean":
                ax.fill_between(x, lo, hi, alpha=0.12)
        chance = [next(r for r in lv["rows"] if r["decoder"] == "song_mean").get(key, {}).get("chance", np.nan)
                  for lv in levels]
        ax.plot(x, chance, ":", color="k", label="chance")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_xlabel("SNR (stimulus-envelope r)")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy, every test chunk")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("SIMULATED data: decoders side by side on one honest split per SNR", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def write_comparison(result: dict, out: Path, *, stem: str = "decoder_comparison") -> list[Path]:
    """Write <stem>.json, <stem>.md, <stem>.png, <stem>_field.png (the field's metrics) and, where a level has
    curves over N participants averaged, <stem>_brains.png into `out`."""
    from reconstruct.evaluation.report import write_json
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.png", out / f"{stem}_field.png"]
    write_json(result, paths[0])
    paths[1].write_text(comparison_markdown(result))
    paths[2].write_bytes(comparison_plot(result))
    paths[3].write_bytes(field_plot(result))
    block = next((lv["brains"] for lv in result["levels"] if is_block(lv.get("brains"))), None)
    if block is not None:
        paths.append(out / f"{stem}_brains.png")
        paths[4].write_bytes(brains_plot(block))
    return paths
