"""analysis.prose, analysis.labels and the report's first screen: a paragraph a reviewer can paste, then the figure."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from analysis_helpers import PAPER_LIKE, counts_table
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.group import t_test
from analysis.labels import fmt, label
from analysis.prose import apa_p, results_paragraph
from analysis.report import analyze


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """The 16 paper-shaped listeners, analysed end to end."""
    out = tmp_path_factory.mktemp("paper")
    table = counts_table({f"L{i:02d}": (k, 24) for i, k in enumerate(PAPER_LIKE)})
    return analyze(table, out_dir=out, power_reps=20), out


@pytest.fixture(scope="module")
def excluded(study, tmp_path_factory):
    """The simulated study with a withdrawal, a failed headphone check and time-outs."""
    out = tmp_path_factory.mktemp("excluded")
    return analyze(study, out_dir=out, power_reps=20), out


@pytest.mark.parametrize("p, text", [(0.0004, "p < .001"), (1e-12, "p < .001"), (0.001, "p = .001"),
                                     (0.04213, "p = .042"), (0.5, "p = .500"), (0.9996, "p > .999"),
                                     (None, "p not computable")])
def test_apa_p(p, text):
    assert apa_p(p) == text


def test_paper_paragraph_states_the_numbers_computed_here(paper):
    text = paper[0]["paragraph"]
    acc = np.array(PAPER_LIKE) / 24
    t = stats.ttest_1samp(acc, 0.5, alternative="greater")
    d = (acc.mean() - 0.5) / acc.std(ddof=1)
    p_binomial = [stats.binomtest(k, 24, 0.5, alternative="greater").pvalue for k in PAPER_LIKE]
    holm = int((multipletests(p_binomial, method="holm")[1] < 0.05).sum())
    assert text.startswith(f"Listeners chose the matching reconstruction on {100 * acc.mean():.1f}% of trials")
    assert f"t(15) = {t.statistic:.2f}, p < .001 (one-sided), d = {d:.2f}" in text
    assert f"W+ = {stats.wilcoxon(acc - 0.5, alternative='greater').statistic:g}, p < .001" in text
    assert f"{['Fourteen', 'Fifteen', 'Sixteen'][holm - 14]} of 16 listeners were above chance after Holm" in text
    assert f"range {100 * acc.min():.1f}%–{100 * acc.max():.1f}%" in text
    assert "No listener was excluded" in text and "different song" in text
    assert not re.search(r"[a-z]+_[a-z]+", text)  # no results.json key leaks into the prose


def test_exclusions_stated_in_words(excluded):
    data = excluded[0]
    text, ex = data["paragraph"], data["exclusions"]["primary"]
    assert "Of 16 listeners with answered trials, 2 were excluded before analysis" in text
    assert "1 withdrew" in text and "1 failed the headphone check" in text
    assert f"{ex['timed_out_trials']} trials that timed out at the one-minute limit were counted as errors" in text
    assert f"practice trials ({ex['practice_trials_not_scored']} in all) were not scored" in text
    assert "with every listener kept, mean accuracy was" in text  # the sensitivity variant differs here


def test_same_song_foils_reported_beside_different_song(study, tmp_path):
    table = study.copy()
    same = table["item"].str.endswith(("2", "4", "6"))
    table.loc[same, "foil_song"] = table.loc[same, "song"]
    text = analyze(table, out_dir=tmp_path, power_reps=10)["paragraph"]
    assert re.search(r"Accuracy was \d+\.\d% \[\d+\.\d%, \d+\.\d%\] with a different song as the foil and "
                     r"\d+\.\d% \[\d+\.\d%, \d+\.\d%\] with another span of the same song as the foil", text)


class _Text(HTMLParser):
    """Collects header cells, the order of the first elements, and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.headers: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self._in.append(tag)
        if tag in ("p", "img", "table", "h2"):
            self.order.append(tag + (":apa" if ("class", "apa") in attrs else ""))

    def handle_endtag(self, tag):  # noqa: ANN001
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):  # noqa: ANN001
        if "style" in self._in:
            return
        self.text.append(data)
        if self._in and self._in[-1] == "th":
            self.headers.append(data)


def test_first_screen_is_the_paragraph_then_the_figure(paper):
    page = _Text()
    page.feed((paper[1] / "report.html").read_text())
    first = [tag for tag in page.order if tag != "h2"]
    assert first[1:3] == ["p:apa", "img"] and first.index("table") > 2  # provenance note, paragraph, figure
    assert paper[0]["paragraph"] in "".join(page.text).replace("\n", " ")


def test_tables_have_human_labels_and_no_raw_keys(excluded):
    page = _Text()
    page.feed((excluded[1] / "report.html").read_text())
    assert page.headers and not [h for h in page.headers if "_" in h]
    visible = " ".join(page.text)
    for raw in ("p_greater", "mean_ci_low", "n_above_chance_holm", "abx_differencing", "timeouts_excluded",
                "median_ms", "cohen_d", "p_holm"):
        assert raw not in visible, raw
    for human in ("Median (ms)", "Cohen's d", "Listeners above chance after Holm", "Accuracy (%)",
                  "Time-outs dropped", "AB-X, differencing"):
        assert human in page.headers or human in visible, human


def test_values_in_their_units():
    assert fmt("accuracy", 0.8489) == "84.9%" and fmt("p_greater", 3e-12) == "< .001"
    assert fmt("median_ms", 6150.0) == "6,150" and fmt("accuracy_typical_ci", [0.9, 0.95]) == "[90.0%, 95.0%]"
    assert fmt("ci_low", -1.5, "mixed") == "-1.5" and label("ci_low", "mixed").endswith("(log-odds)")
    assert label("some_new_key") == "Some new key"


def _proportion_cis(node: object, path: str = ""):
    """Every (path, value) of a proportion CI bound in results.json (log-odds and odds-ratio CIs are not)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key in ("ci_low", "ci_high", "mean_ci_low", "mean_ci_high") and "mixed_model" not in path:
                yield here, value
            elif key in ("accuracy_ci", "accuracy_typical_ci"):
                yield from ((here, v) for v in value)
            else:
                yield from _proportion_cis(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _proportion_cis(item, path)


def test_proportion_cis_stay_inside_0_1(excluded):
    bounds = list(_proportion_cis(excluded[0]))
    assert len(bounds) > 100 and all(0.0 <= v <= 1.0 for _, v in bounds if v is not None)


def test_t_interval_near_ceiling_is_clipped():
    acc = np.array([1.0, 1.0, 23 / 24])
    result = t_test(acc)
    unclipped = acc.mean() + stats.t.ppf(0.975, 2) * acc.std(ddof=1) / np.sqrt(3)
    assert unclipped > 1 and result["mean_ci_high"] == 1.0 and 0 < result["mean_ci_low"] < acc.mean()


def test_paragraph_from_saved_json_matches(paper):
    import json

    saved = json.loads((paper[1] / "results.json").read_text())
    assert results_paragraph(saved) == saved["paragraph"]
