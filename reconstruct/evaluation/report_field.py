"""The content of the HTML report's section "the field's metrics" (report.py renders it): the headline figures
of the decoder (and the ridge baseline run) beside the song-mean baseline and chance, and the band-r plot with
its time-shift null."""

from __future__ import annotations

import html

from reconstruct.evaluation.band_r import band_r_plot
from reconstruct.evaluation.field_metrics import LITERATURE, SUMMARY_KEYS, field_summary

HEADER = {"id50_3s": "50-way ID, 3 s", "idall_5s": "all-way ID, 5 s", "song_id_3s": "song ID, 3 s",
          "mm2": "match-mismatch 2-way", "mm5": "match-mismatch 5-way"}


def _cell(m: dict | None) -> str:
    if not m:
        return "–"
    bits = f"; {m['bits_per_min']:.1f} bits/min" if "bits_per_min" in m else ""
    n = f"; N = {m['n_way']}" if "n_way" in m else ""
    return (f"{m['accuracy']:.1%} [{m['ci95'][0]:.1%}, {m['ci95'][1]:.1%}], clustered [{m['ci95_clustered'][0]:.1%}, "
            f"{m['ci95_clustered'][1]:.1%}] (chance {m['chance']:.1%}{n}{bits})")


def _band(b: dict | None) -> str:
    if not b:
        return "–"
    return (f"{b['mean_r']:.3f} (null 95th pct {b['null_p95']:.3f}, p {b['p']:.2g}; "
            f"{b['n_bands_above_null95']}/{b['n_bands']} bands above)")


def field_section(rows: list[dict]) -> dict | None:
    """Intro HTML, table header and rows and the band-r PNG for every scored row that carries a `field` block
    (None when none does: results made before the block existed)."""
    rows = [x for x in rows if x.get("field")]
    if not rows:
        return None
    intro = ("<h2>The field's metrics (every test chunk)</h2>"
             "<p>So a lab can place these figures beside the literature: N-way segment identification among the "
             "distinct true windows of every test chunk of the data set (a hit when its own window correlates best "
             "among itself and N − 1 seeded distractors; bits/min by Wolpaw), song ID of 3-s windows against each "
             "song's training-only mean, match-mismatch against 1 or 4 other test spans of the same song (ICASSP "
             "challenge), and Pearson r per mel band over each recording's test frames against a null of whole "
             "test chunks re-paired within the recording. The song-mean baseline knows the song and nothing of "
             "time: it passes song ID and rejects other songs' segments, so only figures above it are evidence of "
             "time-specific decoding.</p>"
             "<ul>" + "".join(f"<li><b>{html.escape(k.replace('_', ' '))}</b>: {html.escape(v)}</li>"
                              for k, v in LITERATURE.items()) + "</ul>")
    table = []
    for x in rows:
        for label, scores in ((x["label"], x["field"]["decoder"]),
                              (f"song-mean baseline ({x['label']} split)", x["field"]["song_mean_baseline"])):
            s = field_summary(scores)
            table.append([label] + [_cell(s.get(k)) for k in SUMMARY_KEYS] + [_band(s.get("band_r"))])
    main = rows[0]["field"]
    png = (band_r_plot(main["decoder"]["band_r"], main["song_mean_baseline"]["band_r"], label=rows[0]["label"])
           if "r" in main["decoder"]["band_r"] else None)
    return {"intro": intro, "header": ["result", *(HEADER[k] for k in SUMMARY_KEYS), "mean band r"],
            "rows": table, "png": png}
