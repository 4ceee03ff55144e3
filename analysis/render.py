"""Render results.json as one self-contained HTML page (inline CSS, figures as base64 PNG)."""

from __future__ import annotations

from html import escape

from analysis import plots
from analysis.labels import fmt, label
from analysis.prose import results_paragraph

CSS_BANNER = ".banner{border:2px solid #b00;background:#fff4f4;padding:.5em .8em;margin:.4em 0}"
CSS = CSS_BANNER + """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}pre{background:#f7f7f7;padding:1em;white-space:pre-wrap}
img{max-width:100%}.note{color:#555;font-size:.9em}.err{color:#a00}
.apa{font-family:Georgia,'Times New Roman',serif;font-size:1.08em;max-width:46em}
figure.key{margin:1em 0}figcaption{font-size:.9em;color:#444;max-width:60em}
.table-scroll{overflow-x:auto}
"""


def render_html(results: dict) -> str:
    """The whole report: the results paragraph and key figure first, then labelled tables section by section."""
    sections = [_header(results), _results(results), _foil_kinds(results), _exclusions(results), _group(results), _models(results),
                _dprime(results), _breakdowns(results), _learning(results), _rt(results), _sensitivity(results),
                _power(results), _listener_table(results)]
    return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>tuneback analysis</title><style>{CSS}</style></head><body><main>\n"
            + "\n".join(sections) + "\n</main></body></html>\n")


def _results(results: dict) -> str:
    """The paragraph to paste into a paper and the figure it rests on: what the first screen shows."""
    p, g = results["primary"], results["primary"]["group"]
    paragraph = results.get("paragraph") or results_paragraph(results)
    caption = (f"Figure 1. Accuracy of each of the {g['n_listeners']} listeners (dots, sorted) with Wilson 95% "
               f"confidence intervals; dashed line: chance ({results['options']['chance']:.0%}); solid line: "
               f"group mean ({g['mean']:.1%}). Blue: above chance after Holm correction.")
    figure = (f"<figure class='key'><img alt='{escape(caption)}' "
              f"src='data:image/png;base64,{plots.listener_accuracy(p['listeners'], g['mean'])}'>"
              f"<figcaption>{escape(caption)}</figcaption></figure>")
    return f"<section id='results'><h2>Results</h2><p class='apa'>{escape(paragraph)}</p>{figure}</section>"


def _foil_kinds(results: dict) -> str:
    """Accuracy per foil kind beside the as-heard ideal observer and the identity-only line, and the claim."""
    fk = results.get("foil_kinds")
    if not fk or not fk.get("per_kind"):
        return ""
    rows = []
    for name, k in fk["per_kind"].items():
        observer, identity = k.get("observer_line") or {}, k.get("identity_line") or {}
        rows.append({"foil": name, "listeners": f"{k['correct']}/{k['n']}", "accuracy": k["accuracy"],
                     "ci": f"[{k['ci_low']:.1%}, {k['ci_high']:.1%}]", "p_vs_chance": k["p_vs_chance"],
                     "observer_as_heard": observer.get("accuracy"), "identity_only": identity.get("accuracy"),
                     "p_vs_identity": k.get("p_vs_identity")})
    claim = results.get("claim") or ""
    return _section("Which claim the data support (foil kinds)",
                    _records(rows, list(rows[0]), kinds={"observer_as_heard": "accuracy", "identity_only": "accuracy",
                                                         "p_vs_identity": "p_vs_chance"})
                    + f"<p class='apa'>{escape(claim)}</p>")


def _header(results: dict) -> str:
    """Title and provenance: input, seed, code version, time."""
    source = results["input"]["source"]
    where = source.get("path") or source.get("url") or source.get("kind", "")
    lines = (results.get("provenance") or {}).get("lines", [])
    banners = ("<div class='banner' role='note'>" + "<br>".join(f"<strong>{escape(line)}</strong>" for line in lines)
               + "</div>") if lines else ""
    return (f"<h1>AB-X listening study: results</h1>{banners}"
            f"<p class='note'>Input: {escape(str(where))}"
            + (f" (sha256 {escape(source['sha256'][:16])}…)" if source.get("sha256") else "")
            + f" · seed {results['seed']} · tuneback {escape(str(results['code_version']))}"
            f" · {escape(results['created_utc'])}</p>")


def _exclusions(results: dict) -> str:
    """The stated exclusion rules and who they removed."""
    ex = results["exclusions"]["primary"]
    rules = "".join(f"<li>{escape(r)}</li>" for r in ex["rules_text"])
    listeners = _records(ex["listeners_excluded"], ["listener", "reasons", "trials"],
                         names={"reasons": "Reasons", "trials": "Trials dropped"}) \
        if ex["listeners_excluded"] else "<p>No listener excluded.</p>"
    counts = _kv({"practice trials not scored": ex["practice_trials_not_scored"],
                  "trials unanswered when the session ended": ex["unanswered_trials_not_scored"],
                  "timed-out trials": f"{ex['timed_out_trials']} ({ex['timed_out_handling']})",
                  "catch trials (never scored)": ex.get("catch_trials_not_scored", 0),
                  "answers faster than the floor": f"{ex.get('too_fast_trials', 0)} "
                                                   f"({ex.get('too_fast_handling', 'excluded')})",
                  "listeners with fewer scored trials than the most": ex["n_listeners_with_fewer_trials"],
                  "listeners analysed": ex["n_listeners"], "trials analysed": ex["n_trials"]})
    checks = ""
    if ex.get("catch_by_listener"):
        checks += "<h3 id='catch-trials'>Catch trials by listener</h3>" + _records(
            ex["catch_by_listener"], ["listener", "catch_trials", "correct", "missed", "failed"],
            names={"catch_trials": "Catch trials", "failed": "Missed too many"})
    if ex.get("too_fast_by_listener"):
        checks += "<h3 id='too-fast'>Too-fast answers by listener</h3>" + _records(
            [{"listener": k, "too_fast": v} for k, v in ex["too_fast_by_listener"].items()], ["listener", "too_fast"],
            names={"too_fast": "Answers faster than the floor"})
    return _section("Exclusions (primary analysis)", f"<ul>{rules}</ul>{counts}{listeners}{checks}")


def _group(results: dict) -> str:
    """Group accuracy, tests against chance, and the per-listener figures."""
    p = results["primary"]
    g = p["group"]
    body = _kv({k: g[k] for k in ("n_listeners", "mean", "sd", "median", "min", "max",
                                  "n_above_chance", "n_above_chance_holm")})
    body += "<h3>Pooled trials (descriptive)</h3>" + _kv(g["pooled"])
    body += "<h3>One-sample t-test against 50%</h3>" + _kv(g["t_test"])
    body += "<h3>Wilcoxon signed-rank test against 50%</h3>" + _kv(g["wilcoxon"])
    body += _figure(plots.accuracy_histogram(p["listeners"]), "distribution of listener accuracies")
    return _section("Group accuracy", body)


def _models(results: dict) -> str:
    """Mixed model and GEE, each with what it can and cannot say."""
    body = ""
    for title, key, context in (("Mixed logistic model, crossed listener × item", "mixed_model", "mixed"),
                                ("GEE clustered by listener", "gee", "gee")):
        model = dict(results["primary"][key])
        text = model.pop("interpretation", "")
        body += f"<h3>{title}</h3>{_kv(model, context)}<p class='note'>{escape(text)}</p>"
    return _section("Models", body)


def _dprime(results: dict) -> str:
    """d′ under each model, labelled."""
    d = results["primary"]["dprime"]
    rows = [{"model": name, "definition": d["models"][name], "pooled": d["at_pooled_accuracy"][name],
             "mean": d["listener_mean"][name], "median": d["listener_median"][name],
             "bias": d["bias_corrected"].get(name)} for name in d["models"]]
    names = {"model": "Model", "definition": "Definition", "pooled": "d′ at pooled accuracy",
             "mean": "Listener mean d′", "median": "Listener median d′", "bias": "Bias-corrected d′ (pooled)"}
    return _section("d′", _records(rows, list(rows[0]), names=names, kinds={"mean": "num", "median": "num"})
                    + _kv({k: v for k, v in d["bias_corrected"].items() if k not in d["models"]})
                    + f"<p class='note'>{escape(d['extremes'])}</p>")


def _breakdowns(results: dict) -> str:
    """Accuracy by factor, each with its clustered test, and the song × position figure."""
    b = results["primary"]["breakdowns"]
    body = _figure(plots.song_position(b["song_by_position"], b["position"]["levels"]), "song and position")
    for factor, part in b.items():
        if factor == "song_by_position":
            continue
        names = {"level": label(factor).capitalize()}
        body += (f"<h3>By {escape(label(factor))}</h3>" + _records(part["levels"], list(part["levels"][0]), names=names)
                 + _kv(part["test"]))
    return _section("Breakdowns", body + f"<p class='note'>{escape(b['song']['note'])}</p>")


def _learning(results: dict) -> str:
    """Learning curve and its logistic slope."""
    learn = results["primary"]["learning"]
    slope = {k: v for k, v in learn["slope"].items() if k != "fitted"}
    body = _figure(plots.learning_curve(learn), "learning curve") + _kv(slope)
    columns = ["label"] + [c for c in learn["bins"][0] if c not in ("level", "label")]
    return _section("Trial order (learning)", body + _records(learn["bins"], columns))


def _rt(results: dict) -> str:
    """Response-time summaries."""
    rt = results["primary"]["response_times"]
    if "error" in rt:
        return _section("Response times", f"<p class='err'>{escape(rt['error'])}</p>")
    rows = [{"set": name, **rt[name]} for name in ("overall", "correct_trials", "error_trials", "listener_medians")]
    correlation = "<h3>Listener accuracy and median response time</h3>" + _kv(rt["accuracy_vs_median_rt"])
    return _section("Response times (ms)", _records(rows, list(rows[0])) + correlation)


def _sensitivity(results: dict) -> str:
    """The group result under each exclusion variant, so every rule is seen applied both ways."""
    rows = []
    for name, part in {"primary": {"group": results["primary"]["group"]}, **results["sensitivity"]}.items():
        if "error" in part:
            rows.append({"variant": name, "error": part["error"]})
            continue
        g = part["group"]
        rows.append({"variant": name, "listeners": g["n_listeners"], "trials": g["pooled"]["trials"],
                     "mean": g["mean"], "sd": g["sd"], "p_t": g["t_test"].get("p_greater"),
                     "p_w": g["wilcoxon"].get("p_greater"), "n_above_chance_holm": g["n_above_chance_holm"]})
    columns = list(dict.fromkeys(k for r in rows for k in r))
    names = {"p_t": "t-test p (one-sided)", "p_w": "Wilcoxon p (one-sided)"}
    note = ("<p class='note'>Primary: the stated rules. Time-outs dropped: time-outs removed instead of counted "
            "as errors. Catch and fast kept: listeners who missed catch trials and answers faster than the floor "
            "kept. Unheard kept: trials where a clip never sounded or was cut short kept. No listener excluded: failed headphone checks, catch-trial failures, withdrawn listeners and "
            "too-fast answers kept, and trials the playback log flags as not fully heard; this only shows "
            "how much the exclusions matter, as withdrawn listeners never enter the primary result.</p>")
    return _section("With and without exclusions", _records(rows, columns, names=names,
                                                            kinds={"p_t": "p", "p_w": "p"}) + note)


def _power(results: dict) -> str:
    """Per-listener exact power and the simulated group power curve."""
    pw = results["power"]
    group = pw["group"]
    body = "<h3>One listener, exact binomial</h3>" + _kv(pw["per_listener"], "power")
    body += _records(pw["per_listener_curve"], ["accuracy", "critical_correct", "power"], context="power")
    body += "<h3>Listeners needed (simulated mixed model)</h3>" + _kv(
        {"listeners_needed": group["listeners_needed"], "target_power": group["target_power"],
         "Analysis of each simulated study": group["analysis"], "Variance components": pw["variance_components_from"],
         **group["setup"], "note": group["note"]}, "power")
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


def _kv(mapping: dict, context: str = "") -> str:
    """A two-column table of a flat dict, keys shown by their labels, values in their units."""
    rows = "".join(f"<tr><th scope='row'>{escape(label(k, context))}</th><td>{escape(fmt(k, v, context))}</td></tr>"
                   for k, v in mapping.items())
    return f"<div class='table-scroll' tabindex='0'><table>{rows}</table></div>"


def _records(rows: list[dict], columns: list[str], *, names: dict | None = None, kinds: dict | None = None,
             context: str = "") -> str:
    """A table with one row per record; `names` overrides column labels, `kinds` the key whose format applies."""
    names, kinds = names or {}, kinds or {}
    head = "".join(f"<th scope='col'>{escape(names.get(c) or label(c, context))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(kinds.get(c, c), r.get(c), context))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<div class='table-scroll' tabindex='0'><table><tr>{head}</tr>{body}</table></div>"
