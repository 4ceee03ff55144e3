"""evaluation.json (every figure) and evaluation.html (tables + embedded plots) from an evaluation result."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from reconstruct.evaluation import figures
from reconstruct.evaluation.evaluate import EvaluationResult
from reconstruct.evaluation.report_field import field_section
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.stats import p_text


def _clean(value: object) -> object:
    """JSON-safe copy: numpy → Python, non-finite floats → None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(result: dict, path: Path) -> Path:
    """Write evaluation.json (strict JSON: no NaN/inf)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(result), indent=2, allow_nan=False))
    return path


def _pct(acc: dict | None) -> str:
    if not acc:
        return "–"
    return f"{acc['accuracy']:.1%} [{acc['ci'][0]:.1%}, {acc['ci'][1]:.1%}]" + _clustered(acc.get("ci_clustered"))


def _clustered(ci: list[float] | None) -> str:
    """The two-way clustered interval (span × participant) where a figure has one."""
    return f", clustered [{ci[0]:.1%}, {ci[1]:.1%}]" if ci else ""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _inside(control: dict) -> str:
    """The time-specific measures' plain 95 % verdict."""
    return "chance inside every 95 % CI" if control.get("at_chance_time_specific") else "chance outside a 95 % CI"


def _family(control: dict) -> str:
    """A null control's family-wise verdict; diagnostics have none."""
    if control.get("diagnostic"):
        return "diagnostic"
    return "at chance" if control.get("at_chance") else "NOT at chance"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _obs_pct(o: dict) -> str:
    return f"{o['accuracy']:.1%} [{o['ci95'][0]:.1%}, {o['ci95'][1]:.1%}]" + _clustered(o.get("ci95_clustered"))


def _time_specific_section(rows: list[dict]) -> str:
    """Song identity beside time within the song, each beside the song-mean baseline."""
    from reconstruct.evaluation.time_specific import MEASURES
    out = ["<h2>Time-specific evidence (every test chunk)</h2>",
           "<p>The different-song observer measures song identity, which a song's average sound already "
           "carries; the same-song observer and span identification measure <i>when</i> in the song a "
           "reconstruction was heard. Each is shown beside the <b>song-mean baseline</b> (every reconstruction "
           "replaced by its song's mean training spectrogram): a figure is evidence of decoding the music only "
           "where its lower 95% bound beats that baseline. Brackets: the exact binomial 95% CI, which treats "
           "every chunk as independent, and the CI clustered by true span and participant (a song's "
           "participants share its spans; a participant's chunks share their EEG's make-up), which does not. "
           "The verdicts use the exact one.</p>",
           "<ul>" + "".join(f"<li><b>{html.escape(k.replace('_', '-'))}</b>: {html.escape(v)}</li>"
                            for k, v in MEASURES.items()) + "</ul>"]
    table = []
    for x in rows:
        ts = x.get("time_specific")
        if not ts:
            continue
        for label, sc in ((x["label"], ts["decoder"]), (f"song-mean baseline ({x['label']} split)",
                                                         ts["song_mean_baseline"])):
            table.append([label, _obs_pct(sc["different_song"]), _obs_pct(sc["same_song"]),
                          f"{_pct(sc['span_id']['top1'])} (chance {sc['span_id']['top1']['chance']:.1%})",
                          f"{_pct(sc['span_id']['top3'])} (chance {sc['span_id']['top3']['chance']:.1%})"])
        table.append([f"{x['label']} beats the baseline?"] + [
            "yes" if ts["beats_baseline"][m] else "no" for m in ("different_song", "same_song", "top1", "top3")])
    out.append(_table(["result", "different-song observer", "same-song observer", "top-1 span", "top-3 span"],
                      table))
    return "".join(out)


def _fingerprint_section(fp: dict) -> str:
    """What recognising the participant alone explains (the NMED-H design's confound)."""
    out = ["<h2>Participant fingerprint</h2>"]
    if "participant_id" not in fp:
        return out[0] + f"<p>{html.escape(fp.get('skipped', 'not computed'))}</p>"
    pid = fp["participant_id"]
    out.append(f"<p>Design: {html.escape(fp['design'])}. A linear classifier on each second's channel means and "
               f"log-variances (the recording's make-up, no music) names the participant in <b>{_pct(pid)}</b> of "
               f"test chunks (chance {pid['chance']:.1%})")
    if "participant_id_other_presentation" in fp:
        out.append(f", {_pct(fp['participant_id_other_presentation'])} on the other presentation")
    out.append(".</p>")
    rows = []
    ident = fp.get("identity_only", {})
    if "different_song" in ident:
        rows.append(["identity-only decoder (participant → their song's mean)", _obs_pct(ident["different_song"]),
                     _obs_pct(ident["same_song"]), _pct(ident["span_id"]["top1"])])
    if "other_presentation" in fp:
        d = fp["other_presentation"]["decoder"]
        rows.append(["decoder on the other presentation (never trained on)", _obs_pct(d["different_song"]),
                     _obs_pct(d["same_song"]), _pct(d["span_id"]["top1"])])
    if rows:
        out.append(_table(["result", "different-song observer", "same-song observer", "top-1 span"], rows))
    if "verdict" in fp:
        out.append(f"<p><b>{html.escape(fp['verdict'])}</b>.</p>")
    return "".join(out)


def _verdict(acc: dict) -> str:
    if acc["at_chance"]:
        return "at chance (chance inside the 95% CI)"
    return "ABOVE chance" if acc["accuracy"] > acc["chance"] else "below chance"


def _field_section(rows: list[dict]) -> str:
    """The field's metrics (report_field builds the content), or nothing for results made before them."""
    section = field_section(rows)
    if section is None:
        return ""
    return (section["intro"] + _table(section["header"], section["rows"])
            + (_img(section["png"], "Pearson r per mel band") if section["png"] else ""))


def _trf_patterns(r: dict) -> list[str]:
    """The trf run's Haufe forward patterns (scalp maps where channel positions are known) and its CV r's."""
    train = r["main"].get("train", {})
    if train.get("decoder") != "trf":
        return []
    from reconstruct.evaluation.forward_patterns import forward_pattern_figure
    try:
        png = forward_pattern_figure(Path(r["run_dir"]))
    except (OSError, KeyError, ReconstructError):  # a model trained before patterns were saved
        return []
    nested = train.get("nested_r_mean")
    text = (f"Cross-validated r (mean over bins and participants): {train.get('cv_r_mean', float('nan')):.3f} on "
            "the folds that chose each participant's lag window, penalty and rank (optimistic)"
            + (f"; <b>{nested:.3f} nested</b> (each outer fold scored at the point an inner CV without it chose)"
               if nested is not None else "") + ".")
    return ["<h2>trf forward patterns (Haufe et al. 2014)</h2>", f"<p>{text} The pattern is what the EEG carries "
            "of the decoded first target component, per channel and lag, averaged over participants: unlike the "
            "decoder's raw weights it can be read as where the music-driven activity is.</p>",
            _img(png, "trf forward patterns")]


def render_html(res: EvaluationResult) -> str:
    """The HTML report: what was evaluated, the tables, the plots."""
    r, a = res.json, res.arrays
    ds = r["dataset"]
    chance = r["chance"]
    parts = [f"<h1>Reconstruction evaluation: {html.escape(ds['name'])}</h1>"]
    if ds["simulated"]:
        parts.append(f"<p class=warn><b>SIMULATED data set</b> (SNR {ds['snr']:g}; default {ds['default_snr']:g}). "
                     "These numbers describe the method on synthetic EEG, not brains.</p>")
    parts.append(f"<p>{ds['n_songs']} songs, {ds['n_participants']} participants, {ds['n_recordings']} recordings; "
                 f"chance = 1/{ds['n_songs']} = {chance:.1%}. Run dir <code>{html.escape(r['run_dir'])}</code>; "
                 f"made {r['created_utc']} in {r['seconds']:.0f} s.</p>")

    if "envelope_r" in ds:
        env = ds["envelope_r"]
        parts.append(f"<p>Signal level in the field's units: the stimulus-envelope backward model (ridge over "
                     f"0–250 ms lags) reaches <b>r = {env['mean_r']:.3f}</b> on {env['n_recordings']} recordings "
                     f"of this EEG; {html.escape(env['reference'])}.</p>")
    main = r["main"]
    rows = [main] + ([r["baseline"]] if "baseline" in r else [])
    parts.append("<h2>Song identification (paper Table 2 method)</h2>")
    parts.append("<p>A CNN trained on the <i>true</i> 1-s spectra of the training chunks classifies the "
                 "reconstructions of the test chunks. Per second as in the paper; per 5-s chunk (summed "
                 "log-probabilities) counts fewer, more independent units. Exact (Clopper–Pearson) 95% CIs; "
                 "p is the one-sided exact binomial test against chance. Neighbouring seconds are not "
                 "independent, so the per-second CI is too narrow; prefer the per-chunk one.</p>")
    parts.append(_table(
        ["result", "per second [95% CI]", "p", "per 5-s chunk [95% CI]", "p", "SSIM mean", "PSNR mean (dB)",
         "test MSE"],
        [[x["label"], _pct(x["song_id"]["per_example"]), p_text(x['song_id']['per_example']['p_greater']),
          _pct(x["song_id"]["per_chunk"]), p_text(x['song_id']['per_chunk']['p_greater']),
          f"{x['ssim']['mean']:.3f}", f"{x['psnr_db']['mean']:.2f}", f"{x['test_mse']:.4f}"] for x in rows]))
    c = main["classifier"]
    split = main.get("split", {})
    overlap = split.get("overlap", {})
    parts.append(f"<p>Classifier: {c['n_train_examples']} true 1-s spectra of training and validation seconds "
                 f"only; it scores {c['accuracy_on_true_test_spectra']:.1%} on the true spectra of the test "
                 f"seconds, {c['seen_test_seconds']:.0%} of which it saw in training. Split: one interleaving "
                 f"pattern per {html.escape(str(split.get('scope', '?')))}, guard {split.get('guard_s', 0)} s; "
                 f"test examples whose (song, second) target any recording trains on: "
                 f"{overlap.get('test_targets_in_training', '?')} of {overlap.get('n_test_examples', '?')}.</p>")
    parts.append(_time_specific_section(rows))
    parts.append(_field_section(rows))
    if r.get("fingerprint"):
        parts.append(_fingerprint_section(r["fingerprint"]))
    parts.append(_img(figures.confusion_plot(np.array(main["song_id"]["confusion"]), main["song_id"]["songs"],
                                             title=f"{main['label']}: confusion (per second)"), "confusion"))

    if "table2" in r:
        parts.append("<h2>Table 2: the four input/target pairs</h2>")
        parts.append(_table(["input → target", "decoder", "per second [95% CI]", "per chunk [95% CI]",
                             "SSIM", "PSNR (dB)", "paper (NMED-T)"],
                            [[f"{x['input']} → {x['target']}", x["decoder"], _pct(x["song_id"]["per_example"]),
                              _pct(x["song_id"]["per_chunk"]), f"{x['ssim']['mean']:.3f}",
                              f"{x['psnr_db']['mean']:.2f}", f"{x['paper_accuracy']:.2%}"] for x in r["table2"]]))
        parts.append(_img(figures.accuracy_bars(
            [{"label": x["label"], **x["song_id"]["per_example"]} for x in r["table2"]], chance=chance,
            title="Table 2 pairs: song-ID accuracy per second"), "table 2"))

    parts.append("<h2>SSIM and PSNR (paper Figs 3–4)</h2>")
    sets = {main["label"]: a["main"]}
    if "baseline" in r:
        sets[r["baseline"]["label"]] = a["baseline"]
    for label, arr in a.get("table2", {}).items():
        sets.setdefault(label, arr)
    parts.append(_img(figures.metric_boxplots(sets), "SSIM and PSNR box plots"))
    parts.append(_table(["result", "SSIM mean ± SD", "SSIM median", "PSNR mean ± SD (dB)", "PSNR median"],
                        [[k, f"{x['ssim']['mean']:.3f} ± {x['ssim']['sd']:.3f}", f"{x['ssim']['median']:.3f}",
                          f"{x['psnr_db']['mean']:.2f} ± {x['psnr_db']['sd']:.2f}",
                          f"{x['psnr_db']['median']:.2f}"]
                         for k, x in {m["label"]: m for m in rows + r.get("table2", [])}.items()]))
    if "bin_ssim" in a["main"]:
        parts.append(_img(figures.per_bin_plot(a["main"]["bin_ssim"], a["main"]["bin_psnr"], label=main["label"]),
                          "per-bin SSIM and PSNR"))
    parts.append("<p>PSNR of identical images is infinite; values are capped at 100 dB for means and plots.</p>")
    parts += _trf_patterns(r)

    if a.get("pictures"):
        parts.append("<h2>Target vs reconstruction (paper Fig. 5)</h2>")
        parts.append(_img(figures.spectrogram_pairs(a["pictures"]), "spectrograms"))

    obs = r.get("observer", {})
    parts.append("<h2>Ideal observer (AB-X)</h2>")
    if "skipped" in obs:
        parts.append(f"<p>Skipped: {html.escape(obs['skipped'])}</p>")
    elif obs:
        parts.append(f"<p>Trials: {html.escape(obs['source'])}. The observer picks the reconstruction whose "
                     "spectrogram is closer to X's true spectrogram; chance 50%. This is a ceiling for listeners "
                     "only in the sense of what the spectra carry; the audio adds inversion loss.</p>")
        obs_rows = []
        for measure in ("distance", "ssim"):
            o = obs[measure]
            obs_rows.append([measure, "all", _pct(o), p_text(o['p_two_sided'])])
            obs_rows += [[measure, f"version {v}", _pct(x), p_text(x['p_two_sided'])]
                         for v, x in o["per_version"].items()]
        parts.append(_table(["measure", "trials", "accuracy [95% CI]", "p (two-sided)"], obs_rows))

    if "controls" in r:
        ctl = r["controls"]
        parts.append("<h2>Controls</h2>")
        parts.append("<ul>" + "".join(f"<li><b>{html.escape(k.replace('_', ' '))}</b>: {html.escape(v)}</li>"
                                      for k, v in ctl["notes"].items()) + "</ul>")
        crow, bars, trow = [], [], []
        for name, group in (("noise only", ctl["noise_only"]), ("chunks shuffled", ctl["shuffled_chunks"]),
                            ("songs shuffled (diagnostic)", ctl["shuffled_songs"])):
            if "skipped" in group:
                crow.append([name, "–", group["skipped"], "", "", ""])
                continue
            for decoder, x in group.items():
                crow.append([name, decoder, _pct(x["song_id"]["per_example"]), _pct(x["song_id"]["per_chunk"]),
                             f"{x['ssim']['mean']:.3f} / {x['psnr_db']['mean']:.2f}",
                             _verdict(x["song_id"]["per_example"]) + "; per chunk "
                             + _verdict(x["song_id"]["per_chunk"])
                             + (f"; vs the songs heard {x['accuracy_vs_heard_song']['accuracy']:.1%}"
                                if "accuracy_vs_heard_song" in x else "")])
                bars.append({"label": f"{name} ({decoder})", "kind": "control", **x["song_id"]["per_example"]})
                if "time_specific" in x:
                    d = x["time_specific"]["decoder"]
                    trow.append([name, decoder, _obs_pct(d["different_song"]), _obs_pct(d["same_song"]),
                                 _pct(d["span_id"]["top1"]), _inside(x), _family(x)])
        for key, name in (("time_scrambled", "time-misaligned (scrambled)"),
                          ("time_shifted", "circular shift (diagnostic)")):
            for decoder, x in ctl.get(key, {}).items():
                if not isinstance(x, dict):
                    continue
                crow.append([name, decoder, _pct(x["song_id"]["per_example"]),
                             _pct(x["song_id"]["per_chunk"]), f"{x['ssim']['mean']:.3f} / {x['psnr_db']['mean']:.2f}",
                             "song identity kept on purpose; judged on the time-specific measures"])
                d = x["time_specific"]["decoder"]
                trow.append([name, decoder, _obs_pct(d["different_song"]), _obs_pct(d["same_song"]),
                             _pct(d["span_id"]["top1"]), _inside(x), _family(x)])
        parts.append(_table(["control", "decoder", "per second [95% CI]", "per chunk [95% CI]", "SSIM / PSNR",
                             "verdict"], crow))
        parts.append("<p>The same controls on the time-specific measures (every test chunk):</p>")
        parts.append(_table(["control", "decoder", "different-song observer", "same-song observer",
                             "top-1 span", "time measures, each alone", "verdict (family-wise)"], trow))
        fam = ctl.get("family")
        family = (f" (the {fam['n_checks']} checks each judged on their {fam['level']:.2%} interval, Bonferroni; "
                  f"at 95 % each, a perfect null would miss somewhere with probability "
                  f"{1 - 0.95 ** fam['n_checks']:.0%})") if fam else ""
        verdict = ("every null control (noise only, chunks shuffled, time-misaligned) is at chance" + family
                   if ctl["all_at_chance"] else
                   "NOT every null control is at chance" + family + ": look for a leak before trusting the main result")
        parts.append(f"<p class={'ok' if ctl['all_at_chance'] else 'warn'}><b>{verdict}.</b></p>")
        main_bars = [{"label": x["label"], **x["song_id"]["per_example"]} for x in rows]
        parts.append(_img(figures.accuracy_bars(main_bars + bars, chance=chance,
                                                title="Main, baseline and controls (per second)"), "controls"))

    if "sweep" in r:
        sw = r["sweep"]
        parts.append("<h2>Scale sweep (simulated)</h2>")
        cal = sw.get("snr_for_80pct")
        parts.append(f"<p>{sw['n_songs']} songs × {sw['n_participants']} participants, {sw['decoder']} decoder. "
                     + (f"80% song ID (per second) is reached near SNR {cal['snr']:.2g}." if cal else
                        "No point reached 80%.") + "</p>")
        parts.append(_img(figures.sweep_plot(sw, default_snr=ds.get("default_snr")), "sweep"))
        parts.append(_table(["SNR", "training min / recording", "min in all", "per second [95% CI]",
                             "per chunk [95% CI]", "SSIM", "PSNR (dB)"],
                            [[f"{p['snr']:g}", f"{p['minutes_per_recording']:g}", f"{p['train_minutes_total']:g}",
                              _pct(p["per_example"]), _pct(p["per_chunk"]), f"{p['ssim_mean']:.3f}",
                              f"{p['psnr_mean_db']:.2f}"] for p in sw["points"]]))
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;"
             "padding:4px 8px;text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block;"
             "margin:1em 0}.warn{background:#fff4e0;padding:.5em}.ok{background:#e8f6e8;padding:.5em}")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>tuneback evaluation</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(res: EvaluationResult, out_dir: Path) -> tuple[Path, Path]:
    """Write evaluation.json and evaluation.html into `out_dir`."""
    out_dir = Path(out_dir)
    json_path = write_json(res.json, out_dir / "evaluation.json")
    html_path = out_dir / "evaluation.html"
    html_path.write_text(render_html(res))
    return json_path, html_path
