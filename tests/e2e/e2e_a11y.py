"""Checks run on every page the browser suite visits: axe-core (no serious or critical violation) and phone fit."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from e2e_live import ROOT

AXE = Path(os.environ.get("TUNEBACK_AXE", ROOT / ".cache" / "axe-core" / "axe.min.js"))
BLOCKING = ("serious", "critical")
RUN_AXE = """async () => {
  const r = await axe.run(document, { resultTypes: ["violations"] });
  return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")) }));
}"""
OFF_SCREEN = """() => {
  const w = window.innerWidth, out = [];
  for (const e of document.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")) {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    if (e.closest("[hidden]") || s.visibility === "hidden" || s.display === "none" || r.width === 0) continue;
    const scroller = e.closest(".table-scroll");  /* a wide table scrolls inside its own box: reachable by swiping */
    if (scroller) continue;
    if (r.left < -1 || r.right > w + 1) out.push((e.id || e.name || e.textContent.trim()).slice(0, 40) || e.tagName);
  }
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: w, offScreen: out };
}"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    """axe.min.js, fetched by scripts/setup.sh --test from the npm registry."""
    if not AXE.is_file():
        message = f"no axe-core at {AXE}: run scripts/setup.sh --test (npm pack axe-core)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now (Playwright page)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())  # evaluated by the driver, so the page's CSP (script-src 'self') still holds
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


def fit(page: Any) -> dict:
    """Whether anything is wider than the screen, and which visible controls lie outside it."""
    return page.evaluate(OFF_SCREEN)


class PageChecks:
    """Collects axe and fit findings page by page, so one failure lists every page that has a problem."""

    def __init__(self, *, phone: bool = False) -> None:
        self.phone = phone
        self.pages: list[str] = []
        self.problems: dict[str, Any] = {}

    def __call__(self, page: Any, name: str) -> None:
        """Check the page as it is now under `name`."""
        self.pages.append(name)
        found: dict[str, Any] = {}
        violations = axe_violations(page)
        if violations:
            found["axe"] = violations
        if self.phone:
            layout = fit(page)
            if layout["scrollWidth"] > layout["innerWidth"] or layout["offScreen"]:
                found["layout"] = layout
        if found:
            self.problems[name] = found

    def assert_clean(self) -> None:
        """Fail listing every page with a finding."""
        assert not self.problems, self.problems
