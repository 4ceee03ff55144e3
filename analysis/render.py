"""Render results.json as one self-contained HTML page (inline CSS, figures as base64 PNG)."""

from __future__ import annotations

from html import escape

from analysis import plots

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}pre{background:#f7f7f7;padding:1em;white-space:pre-wrap}
img{max-width:100%}.note{color:#555;font-size:.9em}.err{color:#a00}
"""


def render_html(results: dict) -> str:
    """The whole report: summary, exclusions, group tests, models, d′, breakdowns, learning, RT, power."""
    sections = [_header(results), _section("Summary", f"<pre>{escape(results.get('summary', ''))}</pre>"),
                _exclusions(results), _group(results), _models(results), _dprime(results),
                _breakdowns(results), _learning(results), _rt(results), _sensitivity(results), _power(results),
                _listener_table(results)]
    return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>tuneback analysis</title><style>{CSS}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def _header(results: dict) -> str:
    """Title and provenance: input, seed, code version, time."""
    source = results["input"]["source"]
    where = source.get("path") or source.get("url") or source.get("kind", "")
    return (f"<h1>AB-X listening study: accuracy against chance</h1>"
            f"<p class='note'>Input: {escape(str(where))}"
            + (f" (sha256 {escape(source['sha256'][:16])}…)" if source.get("sha256") else "")
            + f" · seed {results['seed']} · tuneback {escape(str(results['code_version']))}"
            f" · {escape(results['created_utc'])}</p>")


def _exclusions(results: dict) -> str:
    """The stated exclusion rules and who they removed."""
    ex = results["exclusions"]["primary"]
    rules = "".join(f"<li>{escape(r)}</li>" for r in ex["rules_text"])
    listeners = _records(ex["listeners_excluded"], ["listener", "reasons", "trials"]) \
        if ex["listeners_excluded"] else "<p>No listener excluded.</p>"
    counts = _kv({"practice trials not scored": ex["practice_trials_not_scored"],
                  "trials unanswered when the session ended": ex["unanswered_trials_not_scored"],
                  "timed-out trials": f"{ex['timed_out_trials']} ({ex['timed_out_handling']})",
                  "listeners with fewer scored trials than the most": ex["n_listeners_with_fewer_trials"],
                  "listeners analysed": ex["n_listeners"], "trials analysed": ex["n_trials"]})
    return _section("Exclusions (primary analysis)", f"<ul>{rules}</ul>{counts}{listeners}")


def _group(results: dict) -> str:
    """Group accuracy, tests against chance, and the per-listener figures."""
    p = results["primary"]
    g = p["group"]
    body = _kv({k: g[k] for k in ("n_listeners", "mean", "sd", "median", "min", "max",
                                  "n_above_chance", "n_above_chance_holm")})
    body += "<h3>Pooled trials (descriptive)</h3>" + _kv(g["pooled"])
    body += "<h3>One-sample t-test against 0.5</h3>" + _kv(g["t_test"])
    body += "<h3>Wilcoxon signed-rank test against 0.5</h3>" + _kv(g["wilcoxon"])
    body += _figure(plots.listener_accuracy(p["listeners"], g["mean"]), "accuracy per listener")
    body += _figure(plots.accuracy_histogram(p["listeners"]), "distribution of listener accuracies")
    return _section("Group accuracy", body)


def _models(results: dict) -> str:
    """Mixed model and GEE, each with what it can and cannot say."""
    body = ""
    for title, key in (("Mixed logistic model, crossed listener × item", "mixed_model"),
                       ("GEE clustered by listener", "gee")):
        model = dict(results["primary"][key])
        text = model.pop("interpretation", "")
        body += f"<h3>{title}</h3>{_kv(model)}<p class='note'>{escape(text)}</p>"
    return _section("Models", body)


def _dprime(results: dict) -> str:
    """d′ under each model, labelled."""
    d = results["primary"]["dprime"]
    rows = [{"model": name, "definition": d["models"][name], "at pooled accuracy": d["at_pooled_accuracy"][name],
             "listener mean": d["listener_mean"][name], "listener median": d["listener_median"][name],
             "bias-corrected (pooled)": d["bias_corrected"].get(name)} for name in d["models"]]
    return _section("d′", _records(rows, list(rows[0])) + _kv({k: v for k, v in d["bias_corrected"].items()
                                                               if k not in d["models"]})
                    + f"<p class='note'>{escape(d['extremes'])}</p>")


def _breakdowns(results: dict) -> str:
    """Accuracy by factor, each with its clustered test, and the song × position figure."""
    b = results["primary"]["breakdowns"]
    body = _figure(plots.song_position(b["song_by_position"], b["position"]["levels"]), "song and position")
    for factor, part in b.items():
        if factor == "song_by_position":
            continue
        body += f"<h3>By {escape(factor)}</h3>" + _records(part["levels"], list(part["levels"][0])) + _kv(part["test"])
    return _section("Breakdowns", body + f"<p class='note'>{escape(b['song']['note'])}</p>")


def _learning(results: dict) -> str:
    """Learning curve and its logistic slope."""
    learn = results["primary"]["learning"]
    slope = {k: v for k, v in learn["slope"].items() if k != "fitted"}
    body = _figure(plots.learning_curve(learn), "learning curve") + _kv(slope)
    return _section("Trial order (learning)", body + _records(learn["bins"], list(learn["bins"][0])))


def _rt(results: dict) -> str:
    """Response-time summaries."""
    rt = results["primary"]["response_times"]
    if "error" in rt:
        return _section("Response times", f"<p class='err'>{escape(rt['error'])}</p>")
    rows = [{"set": name, **rt[name]} for name in ("overall", "correct_trials", "error_trials", "listener_medians")]
    return _section("Response times (ms)", _records(rows, list(rows[0])) + _kv(rt["accuracy_vs_median_rt"]))


def _sensitivity(results: dict) -> str:
    """The group result under each exclusion variant, so every rule is seen applied both ways."""
    rows = []
    for name, part in {"primary": {"group": results["primary"]["group"]}, **results["sensitivity"]}.items():
        if "error" in part:
            rows.append({"variant": name, "error": part["error"]})
            continue
        g = part["group"]
        rows.append({"variant": name, "listeners": g["n_listeners"], "trials": g["pooled"]["trials"],
                     "mean": g["mean"], "sd": g["sd"], "t-test p (one-sided)": g["t_test"].get("p_greater"),
                     "Wilcoxon p (one-sided)": g["wilcoxon"].get("p_greater"),
                     "above chance (Holm)": g["n_above_chance_holm"]})
    columns = list(dict.fromkeys(k for r in rows for k in r))
    note = ("<p class='note'>primary: the stated rules; timeouts_excluded: time-outs dropped instead of counted "
            "as errors; no_listener_exclusions: failed headphone checks and withdrawn listeners kept. The last "
            "only shows how much the exclusions matter: withdrawn listeners never enter the primary result.</p>")
    return _section("With and without exclusions", _records(rows, columns) + note)


def _power(results: dict) -> str:
    """Per-listener exact power and the simulated group power curve."""
    pw = results["power"]
    group = pw["group"]
    body = "<h3>One listener, exact binomial</h3>" + _kv(pw["per_listener"])
    body += _records(pw["per_listener_curve"], ["accuracy", "critical_correct", "power"])
    body += "<h3>Listeners needed (simulated mixed model)</h3>" + _kv(
        {"listeners needed": group["listeners_needed"], "target power": group["target_power"],
         "analysis of each simulated study": group["analysis"], "variance components": pw["variance_components_from"],
         **group["setup"], "note": group["note"]})
    return _section("Power for the next study", body + _records(group["curve"], ["listeners", "power", "mc_se"]))


def _listener_table(results: dict) -> str:
    """Every listener's numbers, folded away when long."""
    rows = results["primary"]["listeners"]
    table = _records(rows, list(rows[0]))
    return _section("Per listener", f"<details{' open' if len(rows) <= 40 else ''}>"
                    f"<summary>{len(rows)} listeners</summary>{table}</details>")


def _section(title: str, body: str) -> str:
    """A titled section."""
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _figure(png: str, alt: str) -> str:
    """An embedded PNG."""
    return f"<figure><img alt='{escape(alt)}' src='data:image/png;base64,{png}'></figure>"


def _kv(mapping: dict) -> str:
    """A two-column table of a flat dict."""
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in mapping.items())
    return f"<table>{rows}</table>"


def _records(rows: list[dict], columns: list[str]) -> str:
    """A table with one row per record."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    """Format a value for a table cell: floats to 4 significant digits, lists joined."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return escape(", ".join(_plain(v) for v in value))
    if isinstance(value, dict):
        return escape("; ".join(f"{k}: {_plain(v)}" for k, v in value.items()))
    return escape(str(value))


def _plain(value: object) -> str:
    """A nested value as short text."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
