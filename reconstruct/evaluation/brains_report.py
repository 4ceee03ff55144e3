"""The curve over N participants averaged, for people: a markdown table, a PNG plot, and the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reconstruct.evaluation.figures import _png, plt


def _title(curve: dict) -> str:
    sim = "SIMULATED " if curve.get("simulated") else ""
    what = f"{sim}{curve.get('dataset', 'test chunks')}"
    decoder = f", {curve['decoder']} decoder" if curve.get("decoder") else ""
    return f"{what}{decoder}: test spans reconstructed from the average of N participants"


def _cell(m: dict | None) -> str:
    return "–" if m is None else f"{m['accuracy']:.1%} ({m['ci'][0]:.1%}–{m['ci'][1]:.1%})"


def measure_names(curve: dict) -> list[str]:
    """Every measure of the curve, in the order the scorers gave them."""
    names: list[str] = []
    for p in curve["points"]:
        names += [m for m in p["measures"] if m not in names]
    return names


def brains_markdown(curve: dict, names: list[str] | None = None) -> str:
    """One row per N (accuracy, exact 95% CI pooled over the draws), chance and the song-mean baseline below;
    `names`: the measures to show (default: all)."""
    names = names or measure_names(curve)
    lines = [f"### {_title(curve)}", "",
             "| N | draws | averaged spans | " + " | ".join(names) + " |",
             "|---:|---:|---:|" + "---:|" * len(names)]
    for p in curve["points"]:
        cells = [_cell(p["measures"].get(m)) for m in names]
        lines.append(f"| {p['n']} | {p['draws']} | {p['n_averaged_spans']} | " + " | ".join(cells) + " |")
    first = curve["points"][0]["measures"] if curve["points"] else {}
    lines.append("| chance | | | " + " | ".join(f"{first[m]['chance']:.1%}" if m in first else "–"
                                                 for m in names) + " |")
    if "song_mean_baseline" in curve:
        base = curve["song_mean_baseline"]["measures"]
        lines.append("| song-mean baseline (any N) | | | " + " | ".join(_cell(base.get(m)) for m in names) + " |")
    lines.append("")
    lines += [f"- N={s['n']} skipped: {s['reason']}" for s in curve["skipped"]]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in curve["notes"].items()]
    lines.append(f"- participants per song: {curve['participants_per_song']}; seed {curve['seed']}; "
                 f"at most {curve['draws_max']} draws per N")
    return "\n".join(lines) + "\n"


def brains_plot(curve: dict, names: list[str] | None = None) -> bytes:
    """Accuracy against N, one panel per measure (`names`, default all): exact 95% CIs, chance dotted, the
    song-mean baseline dashed."""
    names = names or measure_names(curve)
    cols = min(3, max(1, int(np.ceil(np.sqrt(len(names))))))
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False,
                             layout="constrained")
    ns = [p["n"] for p in curve["points"]]
    for ax, name in zip(axes.ravel(), names):
        pts = [(p["n"], p["measures"][name]) for p in curve["points"] if name in p["measures"]]
        acc = np.array([m["accuracy"] for _, m in pts])
        err = np.array([[m["accuracy"] - m["ci"][0], m["ci"][1] - m["accuracy"]] for _, m in pts]).T
        ax.errorbar([n for n, _ in pts], acc, yerr=err, marker="o", capsize=3, label="N averaged")
        ax.axhline(pts[0][1]["chance"], ls=":", color="tab:red", label=f"chance {pts[0][1]['chance']:.1%}")
        base = curve.get("song_mean_baseline", {}).get("measures", {}).get(name)
        if base:
            ax.axhline(base["accuracy"], ls="--", color="gray", label=f"song mean {base['accuracy']:.1%}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_ylim(0, 1.02)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("participants averaged (N)", fontsize=8)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.suptitle(_title(curve), fontsize=9)
    return _png(fig)


def write_brains(curve: dict, out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """brains.json (every measure), brains.md and brains.png (`names`, default all) in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "brains.json", out_dir / "brains.md", out_dir / "brains.png"]
    paths[0].write_text(json.dumps(curve, indent=1, default=float))
    paths[1].write_text(brains_markdown(curve, names))
    paths[2].write_bytes(brains_plot(curve, names))
    return paths
