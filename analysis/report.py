"""Run the whole analysis and write it down: results.json (every figure) and report.html (self-contained)."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from analysis._blas import single_threaded
from analysis.breakdowns import all_breakdowns, learning
from analysis.dprime import dprime_report, dprime_table
from analysis.errors import AnalysisError
from analysis.exclusions import score, variants
from analysis.group import group_summary
from analysis.listeners import per_listener
from analysis.load import describe, tidy
from analysis.mixed import gee_model, mixed_model
from analysis.power import Setup, binomial_power, power_report
from analysis.labels import label
from analysis.foil_kinds import foil_kind_report
from analysis.prose import apa_p, claim_paragraph, results_paragraph
from analysis.provenance import provenance
from analysis.render import render_html
from analysis.rt import rt_summary

T = TypeVar("T")
SCHEMA = "tuneback.analysis/1"
RESULTS_FILE, REPORT_FILE = "results.json", "report.html"


def analyze(table: pd.DataFrame, *, out_dir: str | Path, seed: int = 0, exclude_failed_headphone: bool = True,
            listener_accuracy: float = 0.75, group_accuracy: float = 0.6, power_reps: int = 1000,
            power_test: str = "t", learning_bin: int = 6, checks: dict | None = None,
            lines: dict | None = None) -> dict:
    """Analyse a trial table end to end, write results.json + report.html, return the results with a summary.

    `lines`: the observer lines stored with the study (per foil kind, what the ideal observer and identity
    alone score), set beside the listeners' accuracy per kind.

    `checks` holds the listening-check rules passed to `exclusions.variants` (exclude_failed_catch,
    max_catch_misses, exclude_too_fast, too_fast_ms); absent ones take their defaults.
    """
    variants(**(checks or {}))  # bad thresholds fail here, before any work
    check_options(listener_accuracy=listener_accuracy, group_accuracy=group_accuracy, power_reps=power_reps,
                  power_test=power_test, learning_bin=learning_bin)
    table = tidy(table, source=table.attrs.get("source") if isinstance(table, pd.DataFrame) else None)
    with single_threaded():
        results = compute(table, seed=seed, exclude_failed_headphone=exclude_failed_headphone,
                          listener_accuracy=listener_accuracy, group_accuracy=group_accuracy,
                          power_reps=power_reps, power_test=power_test, learning_bin=learning_bin,
                          checks=checks, lines=lines)
    results["paragraph"] = " ".join(_paragraph_provenance(results["provenance"]) + [results_paragraph(results)])
    results["claim"] = claim_paragraph(results.get("foil_kinds"))
    results["summary"] = summary_text(results)
    results["files"] = write(results, Path(out_dir))
    return results


def check_options(*, listener_accuracy: float, group_accuracy: float, power_reps: int, power_test: str,
                  learning_bin: int) -> None:
    """Reject bad options before minutes of work, not after."""
    binomial_power(listener_accuracy)
    Setup(accuracy=group_accuracy, reps=power_reps, test=power_test)
    if learning_bin < 1:
        raise AnalysisError(f"learning_bin={learning_bin} must be ≥ 1")


def compute(table: pd.DataFrame, *, seed: int, exclude_failed_headphone: bool, listener_accuracy: float,
            group_accuracy: float, power_reps: int, power_test: str, learning_bin: int,
            checks: dict | None = None, lines: dict | None = None) -> dict:
    """Every figure of the analysis as one JSON-ready dict (no files written)."""
    timings: dict[str, float] = {}
    rules = variants(exclude_failed_headphone=exclude_failed_headphone, **(checks or {}))
    scored, record = score(table, rules["primary"])
    primary = _timed(timings, "primary", lambda: primary_analysis(scored, seed=seed, learning_bin=learning_bin))
    sensitivity, records = _timed(timings, "sensitivity", lambda: sensitivity_analyses(table, rules, scored))
    power = _timed(timings, "power", lambda: power_report(
        primary["mixed_model"], listener_accuracy=listener_accuracy, group_accuracy=group_accuracy,
        trials=_typical_trials(scored), reps=power_reps, seed=seed, test=power_test))
    timings |= {f"primary.{name}": value for name, value in primary.pop("_timings").items()}
    foil_kinds = _timed(timings, "foil_kinds", lambda: foil_kind_report(scored, lines=lines, seed=seed))
    return jsonable({
        "foil_kinds": foil_kinds,
        "schema": SCHEMA, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": _code_version(), "seed": seed, "input": describe(table), "provenance": provenance(table),
        "options": {"seed": seed, "exclude_failed_headphone": exclude_failed_headphone,
                    "listener_accuracy": listener_accuracy, "group_accuracy": group_accuracy,
                    "power_reps": power_reps, "power_test": power_test, "learning_bin": learning_bin,
                    "chance": 0.5, "alpha": 0.05, **(checks or {})},
        "exclusions": {"primary": record, **records},
        "primary": primary, "sensitivity": sensitivity, "power": power,
        "timings_s": timings,
    })


def primary_analysis(scored: pd.DataFrame, *, seed: int = 0, learning_bin: int = 6) -> dict:
    """The full set of statistics on one variant's scored trials."""
    timings: dict[str, float] = {}
    listeners = _timed(timings, "listeners", lambda: _listeners_with_dprime(scored))
    return {
        "listeners": listeners.to_dict("records"),
        "group": _timed(timings, "group", lambda: group_summary(listeners)),
        "dprime": _timed(timings, "dprime", lambda: dprime_report(listeners, scored)),
        "mixed_model": _timed(timings, "mixed_model", lambda: mixed_model(scored, seed=seed)),
        "gee": _timed(timings, "gee", lambda: gee_model(scored)),
        "breakdowns": _timed(timings, "breakdowns", lambda: all_breakdowns(scored)),
        "learning": _timed(timings, "learning", lambda: learning(scored, bin_size=learning_bin)),
        "response_times": _timed(timings, "response_times", lambda: rt_summary(scored, listeners)),
        "_timings": timings,
    }


def sensitivity_analyses(table: pd.DataFrame, rules: dict, primary_scored: pd.DataFrame) -> tuple[dict, dict]:
    """Group results under each non-primary exclusion variant, and the exclusion record of each."""
    results, records = {}, {}
    for name, variant in rules.items():
        if name == "primary":
            continue
        try:
            scored, records[name] = score(table, variant)
        except AnalysisError as exc:
            results[name] = {"error": str(exc)}
            continue
        listeners = per_listener(scored)
        results[name] = {"rules_text": variant.describe(), "same_trials_as_primary": _same(scored, primary_scored),
                         "group": group_summary(listeners),
                         "dprime_at_pooled_accuracy": dprime_report(listeners, scored)["at_pooled_accuracy"]}
    return results, records


def summary_text(results: dict) -> str:
    """A few lines a reader can quote: accuracy, tests against chance, models, d′ and power."""
    p, g = results["primary"], results["primary"]["group"]
    ex = results["exclusions"]["primary"]
    lines = [
        *results.get("provenance", {}).get("lines", []),
        f"{_count(g['n_listeners'], 'listener')}, {_count(ex['n_trials'], 'scored trial')}; "
        f"{_count(len(ex['listeners_excluded']), 'listener')} excluded; "
        f"{_count(ex['timed_out_trials'], 'time-out')} {ex['timed_out_handling']}; "
        f"{_count(ex.get('too_fast_trials', 0), 'too-fast answer')} {ex.get('too_fast_handling', 'excluded')}; "
        f"{_count(sum(c['failed'] for c in ex.get('catch_by_listener', [])), 'listener')} failed catch trials.",
        f"Accuracy: mean {_pct(g['mean'])} (SD {_pct(g['sd'])}, range {_pct(g['min'])}–{_pct(g['max'])}); "
        f"pooled {_pct(g['pooled']['accuracy'])} [{_pct(g['pooled']['ci_low'])}, {_pct(g['pooled']['ci_high'])}] "
        "(descriptive).",
        _tests_line(g),
        f"Listeners above chance: {g['n_above_chance']}/{g['n_listeners']} (binomial p < .05), "
        f"{g['n_above_chance_holm']}/{g['n_listeners']} after Holm.",
        _mixed_line(p["mixed_model"]), _gee_line(p["gee"]),
        "d′ at pooled accuracy: " + ", ".join(
            f"{label(name)} {value:.2f}" for name, value in p["dprime"]["at_pooled_accuracy"].items()
            if value is not None) + ".",
        _power_line(results["power"]),
        *_kind_lines(results.get("foil_kinds")),
    ]
    return "\n".join(line for line in lines if line)


def write(results: dict, out_dir: Path) -> dict:
    """Write results.json and report.html into `out_dir`; return their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out_dir / RESULTS_FILE, out_dir / REPORT_FILE
        json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                             encoding="utf-8")
        html_path.write_text(render_html(results), encoding="utf-8")
    except OSError as exc:
        raise AnalysisError(f"cannot write the report to {out_dir}: {exc}") from exc
    return {"results": str(json_path), "report": str(html_path)}


def jsonable(value: object) -> object:
    """Plain JSON types all the way down: numpy scalars unwrapped, NaN/inf and pandas NA as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _paragraph_provenance(p: dict) -> list[str]:
    """What the pasted paragraph must not lose: simulated EEG or listeners, and a study still running."""
    out = []
    if p.get("dataset_simulated"):
        out.append(f"(These clips were reconstructed from simulated EEG, data set {p['dataset']}.)")
    if p.get("listeners_kind") == "simulated":
        out.append("(All listeners were simulated, not people.)")
    if p.get("status") == "provisional":
        out.append(f"(Provisional: study {p['study_id']} is still {p['study_state']}, "
                   f"{p['completed']} of {p['places']} sessions complete.)")
    return out


def _listeners_with_dprime(scored: pd.DataFrame) -> pd.DataFrame:
    """Per-listener table with d′ under each model appended."""
    listeners = per_listener(scored)
    return listeners.merge(dprime_table(listeners), on="listener", how="left")


def _timed(timings: dict, name: str, work: Callable[[], T]) -> T:
    """Run `work`, recording its wall time, so the benchmark can say where time goes."""
    start = time.perf_counter()
    value = work()
    timings[name] = round(time.perf_counter() - start, 4)
    return value


def _same(scored: pd.DataFrame, other: pd.DataFrame) -> bool:
    """Whether two variants scored exactly the same trials."""
    keys = ["listener", "trial_index"]
    return len(scored) == len(other) and scored[keys].equals(other[keys])


def _typical_trials(scored: pd.DataFrame) -> int:
    """Trials per listener in this study (the most common count), for the power analysis."""
    return int(scored.groupby("listener").size().mode().iloc[0])


def _code_version() -> str:
    """The code version every artefact records (tuneback_core.code_version)."""
    from tuneback_core import code_version

    return code_version()


def _tests_line(g: dict) -> str:
    """t-test and Wilcoxon against chance in one line."""
    t, w = g["t_test"], g["wilcoxon"]
    parts = []
    if "error" not in t:
        parts.append(f"t({t['df']}) = {t['t']:.2f}, one-sided {_p(t['p_greater'])}")
    if "error" not in w:
        parts.append(f"Wilcoxon one-sided {_p(w['p_greater'])}")
    return "Against chance: " + "; ".join(parts) + "." if parts else "Against chance: too few listeners to test."


def _mixed_line(m: dict) -> str:
    """The mixed model's headline."""
    if "error" in m:
        return f"Mixed model: {m['error']}."
    low, high = m["accuracy_typical_ci"]
    return (f"Mixed model (listener × item): typical {_pct(m['accuracy_typical'])} [{_pct(low)}, {_pct(high)}], "
            f"z = {m['z']:.2f}, one-sided {_p(m['p_greater'])}; SD listener {m['sd_listener']:.2f}, "
            f"item {m['sd_item']:.2f} (log-odds).")


def _gee_line(g: dict) -> str:
    """The GEE headline."""
    if "error" in g:
        return f"GEE: {g['error']}."
    low, high = g["accuracy_ci"]
    return (f"GEE (clustered by listener): population-averaged {_pct(g['accuracy'])} [{_pct(low)}, {_pct(high)}], "
            f"one-sided {_p(g['p_greater'])}.")


def _kind_lines(foil_kinds: dict | None) -> list[str]:
    """Per foil kind: listeners' accuracy beside the as-heard ideal observer and the identity-only line."""
    if not foil_kinds:
        return []
    lines = []
    for name, k in foil_kinds["per_kind"].items():
        observer, identity = k.get("observer_line"), k.get("identity_line")
        lines.append(f"{name.capitalize()} foils: listeners {k['correct']}/{k['n']} = {_pct(k['accuracy'])} "
                     f"[{_pct(k['ci_low'])}, {_pct(k['ci_high'])}] exact, one-sided {_p(k['p_vs_chance'])}; "
                     f"ideal observer as heard {_pct(observer['accuracy']) if observer else 'not stored'}; "
                     f"identity alone {_pct(identity['accuracy']) if identity else 'not stored'}.")
    effect = foil_kinds["effect"]
    if "error" not in effect:
        lines.append(f"Foil-kind effect (mixed model): same-song b1 = {effect['b1_same_song']:.2f} "
                     f"(SE {effect['b1_se']:.2f}, {_p(effect['b1_p_two_sided'])}); same-song typical "
                     f"{_pct(effect['same_song_typical'])}, one-sided {_p(effect['same_song_p_greater'])} vs 50%.")
    lines.append(f"Claim supported: {foil_kinds['claim']['verdict']}.")
    return lines


def _power_line(power: dict) -> str:
    """Per-listener and group power in one line."""
    one, group = power["per_listener"], power["group"]
    setup = group["setup"]
    needed = group["listeners_needed"]
    need = f"{needed} listeners" if needed else f"more than {group['curve'][-1]['listeners']} listeners"
    critical = one["critical_correct"]
    needs = (f"needs ≥ {critical} correct" if critical is not None else
             f"no score out of {one['trials']} reaches p < .05")
    return (f"Power: one listener at {_pct(one['accuracy'])} over {one['trials']} trials: {one['power']:.2f} "
            f"({needs}); group at {_pct(setup['accuracy'])}: {need} for "
            f"{group['target_power']:.0%} power ({group['analysis']}; {setup['reps']} simulated studies, "
            f"seed {setup['seed']}).")


def _count(n: int, noun: str) -> str:
    """'1 listener', '14 listeners'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _pct(x: float | None) -> str:
    """Format a proportion as a percentage."""
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _p(p: float | None) -> str:
    """Format p the one way the analysis does (analysis.prose.apa_p)."""
    return apa_p(p)
