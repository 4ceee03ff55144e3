"""How many brains it takes, decoder by decoder: the curve over N participants averaged in the decoder comparison.

At one SNR level of the comparison, every decoder's run is scored by `brains.run_brains_curve` with the
time-specific observers, span identification and the field's metrics, and the curves are put side by side:
one table per measure (rows: decoders and the song-mean baseline; columns: N) and one plot panel per measure.
"""

from __future__ import annotations

from functools import partial

from reconstruct.config import RunConfig
from reconstruct.evaluation.brains import NS, default_scorers, run_brains_curve
from reconstruct.evaluation.field_metrics import field_metrics, song_templates
from reconstruct.evaluation.time_specific import load_test_chunks, song_mean_baseline

MEASURES = {"observer.same_song": "same-song observer (time)",
            "field.segment_id.3s.50": "50-way segment ID, 3 s",
            "field.match_mismatch.5way": "match-mismatch 5-way, 5 s",
            "observer.different_song": "different-song observer (identity)"}
VALUES = {"field.band_r.mean_r": "mean r over mel bands"}
NULL_DRAWS = 199  # the band-r null's re-pairings per point (the comparison's own rows use 999)


def decoder_brains(config: RunConfig, *, ns: tuple[int, ...] = NS, seed: int | None = None) -> dict:
    """One finished run's curve over N with the default scorers and the field's metrics (subsets left out)."""
    seed = config.select_seed if seed is None else seed
    chunks = load_test_chunks(config)
    baseline = song_mean_baseline(config, chunks)
    templates = song_templates(chunks, baseline)
    scorers = {**default_scorers(seed=seed),
               "field": partial(field_metrics, seed=seed, templates=templates, n_null=NULL_DRAWS)}
    curve = run_brains_curve(config, scorers=scorers, ns=ns, seed=seed, chunks=chunks, baseline=baseline)
    for point in curve["points"]:
        point.pop("subsets", None)  # the names of the drawn participants: in `tuneback reconstruct brains` output
    return curve


def _cell(m: dict | None) -> str:
    return "–" if m is None else f"{m['accuracy']:.1%} [{m['ci'][0]:.1%}, {m['ci'][1]:.1%}]".replace("%", "")


def brains_markdown(block: dict) -> str:
    """Per measure, a table of decoders (and the song-mean baseline) against N averaged."""
    curves = block["curves"]
    ns = sorted({p["n"] for c in curves.values() for p in c["points"]})
    lines = [f"Test spans reconstructed from the average of N participants' decoded spectra (SNR {block['snr']:g}; "
             "participants drawn from the test side only; exact 95% CI pooled over draws, optimistic since "
             "draws share truth)."]
    for name, title in {**MEASURES, **VALUES}.items():
        lines += ["", f"**{title}** (`{name}`)", "", "| decoder | " + " | ".join(f"N = {n}" for n in ns) + " |",
                  "|---|" + "---|" * len(ns)]
        chance, base = None, None
        for decoder, curve in curves.items():
            by_n = {p["n"]: p for p in curve["points"]}
            if name in VALUES:
                cells = [f"{by_n[n]['values'][name]:.3f}" if n in by_n and name in by_n[n]["values"] else "–"
                         for n in ns]
                base = curve.get("song_mean_baseline", {}).get("values", {}).get(name, base)
            else:
                cells = [_cell(by_n[n]["measures"].get(name)) if n in by_n else "–" for n in ns]
                found = [p["measures"][name] for p in curve["points"] if name in p["measures"]]
                chance = found[0]["chance"] if found else chance
                base = curve.get("song_mean_baseline", {}).get("measures", {}).get(name, base)
            lines.append(f"| {decoder} | " + " | ".join(cells) + " |")
        if isinstance(base, dict):
            lines.append(f"| song_mean (any N) | {base['accuracy']:.1%}" + " |" * len(ns))
        elif base is not None:
            lines.append(f"| song_mean (any N) | {base:.3f}" + " |" * len(ns))
        if chance is not None:
            lines.append(f"| chance | {chance:.1%}" + " |" * len(ns))
    return "\n".join(lines) + "\n"


def brains_plot(block: dict) -> bytes:
    """One panel per measure: each decoder's accuracy against N (exact CI band), chance dotted, song-mean dashed."""
    from reconstruct.evaluation.figures import _png, plt
    curves = block["curves"]
    names = [*MEASURES, *VALUES]
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.4), squeeze=False, layout="constrained")
    for ax, name in zip(axes[0], names):
        for decoder, curve in curves.items():
            pts = [p for p in curve["points"] if name in p["measures"] or name in p["values"]]
            x = [p["n"] for p in pts]
            if name in VALUES:
                ax.plot(x, [p["values"][name] for p in pts], marker="o", label=decoder)
                continue
            ms = [p["measures"][name] for p in pts]
            line, = ax.plot(x, [m["accuracy"] for m in ms], marker="o", label=decoder)
            ax.fill_between(x, [m["ci"][0] for m in ms], [m["ci"][1] for m in ms], alpha=0.12,
                            color=line.get_color())
        first = next(iter(curves.values()))
        base = first.get("song_mean_baseline", {})
        b = base.get("values", {}).get(name) if name in VALUES else base.get("measures", {}).get(name, {}).get(
            "accuracy")
        if b is not None:
            ax.axhline(b, ls="--", color="grey", label="song mean")
        chance = next((p["measures"][name]["chance"] for p in first["points"] if name in p["measures"]), None)
        if chance is not None:
            ax.axhline(chance, ls=":", color="k", label="chance")
            ax.set_ylim(0, 1.02)
        ax.set_xscale("log", base=2)
        ns = sorted({p["n"] for c in curves.values() for p in c["points"]})
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_title({**MEASURES, **VALUES}[name], fontsize=9)
        ax.set_xlabel("participants averaged (N)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    sim = "SIMULATED data: " if block.get("simulated", True) else ""
    fig.suptitle(f"{sim}how many brains it takes, SNR {block['snr']:g} (test side only)", fontsize=10)
    return _png(fig)


def brains_block(runs: dict[str, RunConfig], snr: float) -> dict:
    """The comparison's `brains` block: every decoder's curve at one SNR level."""
    curves = {d: decoder_brains(c) for d, c in runs.items()}
    simulated = all(c.get("simulated", True) for c in curves.values())
    return {"snr": snr, "simulated": simulated, "ns": list(NS), "curves": curves,
            "measures": MEASURES, "values": VALUES}


def is_block(value: object) -> bool:
    """True for a brains block as `brains_block` makes it (an older comparison has none)."""
    return isinstance(value, dict) and bool(value.get("curves"))
