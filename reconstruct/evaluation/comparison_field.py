"""The decoder comparison's second table and figure: the field's metrics per (SNR, decoder), beside the
song-mean baseline and chance. Rows measured before the field block existed show "–"."""

from __future__ import annotations

import numpy as np

from reconstruct.evaluation.field_metrics import SUMMARY_KEYS

FIELD_COLUMNS = {"id50_3s": "50-way ID 3 s", "idall_5s": "all-way ID 5 s", "song_id_3s": "song ID 3 s",
                 "mm2": "MM 2-way 5 s", "mm5": "MM 5-way 5 s"}


def field_beats(decoder: dict, baseline: dict) -> dict[str, bool]:
    """Per field accuracy: is the decoder's lower exact 95 % bound above both chance and the song-mean baseline?"""
    return {k: bool(decoder[k]["ci95"][0] > max(decoder[k]["chance"], baseline.get(k, {}).get("accuracy", 0.0)))
            for k in SUMMARY_KEYS if k in decoder}


def _cell(m: dict | None) -> str:
    if not m:
        return "–"
    return (f"{m['accuracy']:.1%} [{m['ci95'][0]:.1%}, {m['ci95'][1]:.1%}] ({m['chance']:.1%})").replace("%", "")


def _bits(field: dict) -> str:
    parts = [f"{field[k]['bits_per_min']:.1f}" if k in field else "–" for k in ("id50_3s", "idall_5s")]
    return " / ".join(parts)


def _band(field: dict) -> str:
    b = field.get("band_r")
    if not b:
        return "–"
    above = f"{b['n_bands_above_null95']}/{b['n_bands']}"
    return f"{b['mean_r']:.3f} (null 95th {b['null_p95']:.3f}, p {b['p']:.2g}; {above})"


def _verdict(field: dict) -> str:
    """The field metrics whose lower 95 % bound clears chance and the song-mean row, and band r beyond its null."""
    if "beats_baseline" not in field:
        return "–"
    names = [FIELD_COLUMNS[k].split(" ", 1)[0] + " " + FIELD_COLUMNS[k].split(" ", 1)[1].split(" ")[0]
             for k, ok in field["beats_baseline"].items() if ok and k in FIELD_COLUMNS]
    band = field.get("band_r") or {}
    if band.get("p", 1.0) < 0.05:
        names.append("band r")
    return ", ".join(names) or "no"


def field_markdown(result: dict) -> str:
    """The field's metrics, one row per (SNR, decoder): accuracy [exact 95 % CI] (chance), bits/min, band r."""
    lines = ["| SNR | decoder | " + " | ".join(f"{v} % (chance)" for v in FIELD_COLUMNS.values())
             + " | bits/min (50-way 3 s / all 5 s) | mean band r (null 95th, p; bands above) "
             "| above chance and song-mean (band r: beyond its null) |",
             "|---|---|" + "---|" * (len(FIELD_COLUMNS) + 3)]
    for level in result["levels"]:
        for row in level["rows"]:
            field = row.get("field") or {}
            mark = " †" if row.get("measured_by") else ""
            cells = [_cell(field.get(k)) for k in FIELD_COLUMNS]
            lines.append(f"| {level['snr']:g} | {row['decoder']}{mark} | {' | '.join(cells)} | "
                         f"{_bits(field) if field else '–'} | {_band(field)} | "
                         f"{_verdict(field) if row['decoder'] != 'song_mean' else '–'} |")
    lines.append("")
    lines.append("N-way ID: the reconstruction window against its own true window and N − 1 distractors from the "
                 "distinct test windows of every song (all-way: the whole pool, N in the JSON); song ID against "
                 "each song's training-only mean; MM: against 1 or 4 other test spans of the same song. Brackets: "
                 "exact 95 % CI; the JSON adds the CI clustered by true span and participant.")
    return "\n".join(lines) + "\n"


def field_plot(result: dict) -> bytes:
    """50-way ID (3 s) and 5-way match-mismatch against SNR, one line per decoder, song-mean dashed, chance dotted."""
    from reconstruct.evaluation.figures import _png, plt
    levels = result["levels"]
    x = np.arange(len(levels))
    labels = [f"{lv['snr']:g}" + (f"\nr={lv['envelope_r']:.2f}" if lv.get("envelope_r") is not None else "")
              for lv in levels]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, key in zip(axes, ("id50_3s", "mm5")):
        chance = []
        for decoder in [*result["decoders"], "song_mean"]:
            cells = [(next((r for r in lv["rows"] if r["decoder"] == decoder), {}).get("field") or {}).get(key)
                     for lv in levels]
            acc = [c["accuracy"] if c else np.nan for c in cells]
            style = {"ls": "--", "color": "grey"} if decoder == "song_mean" else {"marker": "o"}
            ax.plot(x, acc, label=decoder, **style)
            if decoder != "song_mean":
                ax.fill_between(x, [c["ci95"][0] if c else np.nan for c in cells],
                                [c["ci95"][1] if c else np.nan for c in cells], alpha=0.12)
            chance = [c["chance"] if c else ch for c, ch in zip(cells, chance or [np.nan] * len(levels))]
        ax.plot(x, chance, ":", color="k", label="chance")
        ax.set_title(f"{FIELD_COLUMNS[key]} (field's metric)", fontsize=10)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_xlabel("SNR (stimulus-envelope r)")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy, every test window")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("SIMULATED data: the field's metrics, decoders side by side on one honest split per SNR",
                 fontsize=10)
    fig.tight_layout()
    return _png(fig)
