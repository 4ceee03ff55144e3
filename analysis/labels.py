"""Human labels, units and number formats for the report's tables: results.json keys never reach the page.

Each key maps to (label, kind); kind decides the format: "pct" a proportion shown as a percentage, "p" a
p-value in APA form, "ms" milliseconds, "int", "num" (4 significant digits) or "text". A key can be
specialised by its context ("mixed.ci_low" is on the log-odds scale, not a proportion).
"""

from __future__ import annotations

from analysis.prose import apa_p, pct

LABELS: dict[str, tuple[str, str]] = {
    # listeners and groups
    "listener": ("Listener", "text"), "listeners": ("Listeners", "int"), "version": ("Version", "text"),
    "trials": ("Trials", "int"), "correct": ("Correct", "int"), "timed_out": ("Timed out", "int"),
    "accuracy": ("Accuracy (%)", "pct"), "ci_low": ("95% CI low (%)", "pct"), "ci_high": ("95% CI high (%)", "pct"),
    "p_binomial": ("Binomial p (one-sided)", "p"), "p_holm": ("Holm-adjusted p", "p"),
    "above_chance": ("Above chance (p < .05)", "text"), "above_chance_holm": ("Above chance after Holm", "text"),
    "dprime_2afc": ("d′ (2AFC)", "num"), "dprime_abx_differencing": ("d′ (AB-X, differencing)", "num"),
    "dprime_abx_independent": ("d′ (AB-X, independent)", "num"),
    "n_listeners": ("Listeners", "int"), "mean": ("Mean accuracy (%)", "pct"), "sd": ("SD of accuracy (%)", "pct"),
    "median": ("Median accuracy (%)", "pct"), "min": ("Lowest accuracy (%)", "pct"),
    "max": ("Highest accuracy (%)", "pct"), "n_above_chance": ("Listeners above chance (p < .05)", "int"),
    "n_above_chance_holm": ("Listeners above chance after Holm", "int"), "note": ("Note", "text"),
    # tests
    "t": ("t", "num"), "df": ("Degrees of freedom", "int"), "p_two_sided": ("p (two-sided)", "p"),
    "p_greater": ("p (one-sided, above chance)", "p"), "mean_ci_low": ("Mean: 95% CI low (%)", "pct"),
    "mean_ci_high": ("Mean: 95% CI high (%)", "pct"), "cohen_d": ("Cohen's d", "num"),
    "statistic": ("Signed-rank statistic (two-sided, smaller rank sum)", "num"),
    "w_plus": ("W+ (sum of positive ranks)", "num"), "n_nonzero": ("Listeners not exactly at chance", "int"),
    "method": ("Method", "text"), "p": ("p", "p"), "chi2": ("Wald χ²", "num"), "notes": ("Notes", "text"),
    "error": ("Not computed", "text"),
    # models
    "model": ("Model", "text"), "intercept": ("Intercept (log-odds)", "num"), "se": ("Standard error", "num"),
    "z": ("z", "num"), "converged": ("Converged", "text"), "message": ("Optimiser message", "text"),
    "n_items": ("Items", "int"), "n_trials": ("Trials", "int"), "seed": ("Seed", "int"),
    "sd_item": ("SD between items (log-odds)", "num"), "sd_listener": ("SD between listeners (log-odds)", "num"),
    "vb_sd": ("Variational posterior SD of the intercept", "num"),
    "accuracy_typical": ("Typical listener and item (%)", "pct"),
    "accuracy_typical_ci": ("Typical listener and item: 95% CI (%)", "pct"),
    "accuracy_population_averaged": ("Population-averaged accuracy (%)", "pct"),
    "mixed.ci_low": ("Intercept: 95% CI low (log-odds)", "num"),
    "mixed.ci_high": ("Intercept: 95% CI high (log-odds)", "num"),
    "accuracy_ci": ("Accuracy: 95% CI (%)", "pct"), "se_robust": ("Robust standard error", "num"),
    "working_correlation": ("Working correlation within listener", "num"), "n_clusters": ("Listeners (clusters)", "int"),
    # d′
    "criterion_c": ("Criterion c (bias towards A)", "num"), "false_alarm_rate_A": ("'A' when B was right (%)", "pct"),
    "hit_rate_A": ("'A' when A was right (%)", "pct"), "pc_unbiased": ("Accuracy without bias (%)", "pct"),
    "2afc": ("2AFC (for comparison)", "text"), "abx_differencing": ("AB-X, differencing", "text"),
    "abx_independent": ("AB-X, independent observation", "text"),
    # breakdowns and learning
    "level": ("Level", "text"), "label": ("Trials", "text"), "slope_per_trial": ("Slope per trial (log-odds)", "num"),
    "odds_ratio_per_trial": ("Odds ratio per trial", "num"), "odds_ratio_ci": ("Odds ratio: 95% CI", "num"),
    "centre": ("Trial number at the centre", "num"), "bins.level": ("Bin", "int"),
    "foil": ("foil", "text"), "song": ("song", "text"), "position": ("position in song", "text"),
    "eeg_participant": ("EEG participant", "text"), "correct_side": ("correct side", "text"),
    # response times
    "set": ("Trials", "text"), "n": ("n", "int"), "median_ms": ("Median (ms)", "ms"),
    "q25_ms": ("25th percentile (ms)", "ms"), "q75_ms": ("75th percentile (ms)", "ms"), "mean_ms": ("Mean (ms)", "ms"),
    "sd_ms": ("SD (ms)", "ms"), "min_ms": ("Fastest (ms)", "ms"), "max_ms": ("Slowest (ms)", "ms"),
    "overall": ("All answered", "text"), "correct_trials": ("Correct", "text"), "error_trials": ("Errors", "text"),
    "listener_medians": ("Listener medians", "text"), "rho": ("Spearman ρ", "num"),
    "spearman_rho": ("Spearman ρ", "num"), "timed_out_trials": ("Timed-out trials", "int"),
    # sensitivity and power
    "variant": ("Analysis", "text"), "primary": ("Primary (stated rules)", "text"),
    "timeouts_excluded": ("Time-outs dropped", "text"), "no_listener_exclusions": ("No listener excluded", "text"),
    "alpha": ("α", "num"), "critical_correct": ("Correct answers needed", "int"),
    "actual_alpha": ("Actual false-positive rate (%)", "pct"), "power": ("Power (%)", "pct"),
    "mc_se": ("Monte-Carlo SE (%)", "pct"), "power.accuracy": ("True accuracy (%)", "pct"),
    "versions": ("Versions", "int"), "test": ("Test", "text"), "reps": ("Simulated studies", "int"),
    "listeners_needed": ("Listeners needed", "int"), "target_power": ("Target power (%)", "pct"),
}


def label(key: str, context: str = "") -> str:
    """The human label of a results key (its words with spaces when no label is written down)."""
    return _entry(key, context)[0]


def fmt(key: str, value: object, context: str = "") -> str:
    """A value formatted by its key's kind: percentages, APA p, milliseconds, integers or text."""
    kind = _entry(key, context)[1]
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) and len(value) == 2:
            return "[" + ", ".join(_number(kind, v) for v in value) + "]"
        return "; ".join(fmt(key, v, context) for v in value) if value else "–"
    if isinstance(value, (int, float)):
        return _number(kind, value)
    text = str(value)
    return label(text) if text in LABELS and LABELS[text][1] == "text" else text


def _number(kind: str, value: float) -> str:
    """One number in its kind's format."""
    if kind == "pct":
        return pct(value)
    if kind == "p":
        return apa_p(value)[2:].replace("= ", "")
    if kind == "ms":
        return f"{value:,.0f}"
    if kind == "int" and float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _entry(key: str, context: str) -> tuple[str, str]:
    """The (label, kind) of a key, the context-specific one first."""
    if context and f"{context}.{key}" in LABELS:
        return LABELS[f"{context}.{key}"]
    if key in LABELS:
        return LABELS[key]
    return key.replace("_", " ").capitalize(), "num"
