"""Accuracy against chance: exact binomial tests and Clopper–Pearson intervals."""

from __future__ import annotations

from scipy import stats

from reconstruct.errors import ParameterError


def accuracy_vs_chance(correct: int, n: int, chance: float, *, level: float = 0.95) -> dict:
    """Accuracy with an exact (Clopper–Pearson) CI and exact binomial p-values against `chance`.

    ``at_chance`` is True when `chance` lies inside the CI (what a control must show);
    ``above_chance`` when the one-sided p (H1: accuracy > chance) is below 1 − `level`.
    """
    if not 0 < chance < 1:
        raise ParameterError(f"chance={chance} must be in (0, 1)")
    if n < 1:
        raise ParameterError(f"n={n} must be >= 1")
    if not 0 <= correct <= n:
        raise ParameterError(f"correct={correct} must be in [0, n={n}]")
    test = stats.binomtest(int(correct), int(n), chance, alternative="greater")
    ci = stats.binomtest(int(correct), int(n), chance).proportion_ci(level, method="exact")
    return {"n": int(n), "correct": int(correct), "accuracy": correct / n, "chance": chance,
            "ci": [float(ci.low), float(ci.high)], "ci_level": level,
            "p_greater": float(test.pvalue),
            "p_two_sided": float(stats.binomtest(int(correct), int(n), chance).pvalue),
            "at_chance": bool(ci.low <= chance <= ci.high),
            "above_chance": bool(test.pvalue < 1 - level)}


def family_at_chance(checks: list[tuple[int, int, float]], *, alpha: float = 0.05) -> tuple[list[bool], float]:
    """Is chance inside each (correct, n, chance) check's Bonferroni interval (level 1 − alpha/m)?

    A verdict "every null check is at chance" over m checks at 95 % each fails for a perfect null with
    probability 1 − 0.95^m (68 % for m = 22); judging each on its 1 − alpha/m interval keeps the
    family-wise false alarm at most alpha. Returns the verdicts and the level used."""
    level = 1 - alpha / max(len(checks), 1)
    return [accuracy_vs_chance(k, n, chance, level=level)["at_chance"] for k, n, chance in checks], level


def p_text(p: float, *, equals: bool = False) -> str:
    """A p-value for people: '3.1e-07', or '< 1e-300' where the float underflowed to 0 (never 'p = 0')."""
    if p < 1e-300:
        return "<1e-300" if equals else "< 1e-300"
    return f"={p:.2g}" if equals else f"{p:.2g}"
