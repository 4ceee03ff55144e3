"""Catch trials (issue 15): extra trials whose X is played again on one side, placed from the session's seed.

A catch trial borrows a scored item of the version: X is that item's target, the correct side plays the same
target again (identical to X), the other side plays the item's foil. It is shown, served and timed exactly like
any trial (same opaque slot URLs, same headers, its own key t<k> in the one numbering), so nothing but the sound
itself tells it apart; it is never scored, and a listener who misses too many is excluded by the analysis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from experiment.design import PlannedTrial, VersionDesign
from experiment.errors import ExperimentError


@dataclass(frozen=True)
class PlannedCatch(PlannedTrial):
    """A planned trial that is a catch trial (`item` names the scored item whose target and foil it borrows)."""

    catch: bool = True


def place_catch_trials(plan: list[PlannedTrial], design: VersionDesign, seed: int, n: int) -> list[PlannedTrial]:
    """Insert `n` catch trials among the scored trials of `plan`, deterministically from the session's `seed`.

    Never first (the first scored trial follows the practice) and never two in a row; each takes the correct side
    that joins the shorter run of equal sides (a run grows by one at most). All trials are renumbered 1…N+n.
    """
    if n <= 0:
        return list(plan)
    practice = [p for p in plan if p.practice]
    trials = [p for p in plan if not p.practice]
    if n > len(trials) // 2:
        raise ExperimentError(f"catch_trials={n} is more than half of the {len(trials)} scored trials")
    rng = random.Random(f"tuneback-catch:{seed}")
    slots = sorted(rng.sample(range(1, len(trials)), n))  # before scored trial i (0-based): never first, never 2 in a row
    borrowed = rng.sample([t.item for t in design.trials], n)
    out: list[PlannedTrial] = []
    for i, t in enumerate(trials):
        if i in slots:
            out.append(PlannedCatch(borrowed[slots.index(i)], False, 0, _quiet_side(out, trials[i:], rng)))
        out.append(t)
    return [*practice, *(replace(t, order_index=k) for k, t in enumerate(out, start=1))]


def _quiet_side(before: list[PlannedTrial], after: list[PlannedTrial], rng: random.Random) -> str:
    """The correct side for a catch trial between `before` and `after` that makes the shorter run of one side."""
    def run(trials: list[PlannedTrial], side: str) -> int:
        n = 0
        for t in trials:
            if t.correct_side != side:
                break
            n += 1
        return n

    lengths = {side: run(before[::-1], side) + run(after, side) for side in ("A", "B")}
    if lengths["A"] == lengths["B"]:
        return rng.choice(("A", "B"))
    return min(lengths, key=lengths.__getitem__)
