"""Hand-made trial tables for the analysis tests: every number in them can be counted by eye."""

from __future__ import annotations

import pandas as pd

SONGS = ("song1", "song2", "song3", "song4")
POSITIONS = ("beginning", "middle", "end")
# 16 listeners over 24 trials with the paper's extremes: min 16/24 = 66.67%, max 23/24 = 95.83%.
PAPER_LIKE = (16, 18, 19, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22, 23, 23)


def hand_table(outcomes: dict[str, list[int]], *, timed_out: dict[str, list[int]] | None = None,
               unanswered: dict[str, list[int]] | None = None, withdrawn: tuple[str, ...] = (),
               failed_headphone: tuple[str, ...] = (), practice: int = 2, rt_ms: float = 5000.0) -> pd.DataFrame:
    """A contract-shaped table where listener L's k-th scored trial is correct iff outcomes[L][k] == 1.

    Trial k shows item t{k}, song SONGS[k % 4], position POSITIONS[k // 4 % 3], EEG participant p{k % 12},
    correct side A on even k and B on odd k. Indices in `timed_out` become time-outs (no answer, wrong);
    indices in `unanswered` become trials never answered nor timed out.
    """
    rows = []
    for number, (listener, results) in enumerate(outcomes.items()):
        version = number % 2 + 1
        for k in range(practice):
            rows.append(_row(listener, version, k, True, 1, "A", rt_ms))
        for k, ok in enumerate(results):
            rows.append(_row(listener, version, k, False, ok, "AB"[k % 2], rt_ms))
    table = pd.DataFrame(rows)
    _mark(table, timed_out or {}, timeout=True)
    _mark(table, unanswered or {}, timeout=False)
    table["withdrawn"] = table["listener"].isin(withdrawn)
    table["headphone_passed"] = ~table["listener"].isin(failed_headphone)
    return table


def _row(listener: str, version: int, k: int, practice: bool, ok: int, side: str, rt_ms: float) -> dict:
    """One trial row with every contract column."""
    answer = side if ok else ("B" if side == "A" else "A")
    return {
        "experiment_id": 1, "listener": listener, "version": version, "practice": practice, "trial_index": k + 1,
        "item": f"practice{k}" if practice else f"t{k:02d}", "song": SONGS[k % 4],
        "position": POSITIONS[k // 4 % 3], "eeg_participant": f"p{k % 12:02d}", "foil_song": SONGS[(k + 1) % 4],
        "foil_eeg_participant": f"p{(k + 3) % 12:02d}", "match_clip": f"r{k}", "foil_clip": f"r{k + 50}",
        "correct_side": side, "answer": answer, "correct": bool(ok), "timed_out": False,
        "rt_ms": rt_ms + 100 * k, "presented_utc": pd.Timestamp("2026-11-25", tz="UTC"),
        "answered_utc": pd.Timestamp("2026-11-25", tz="UTC"), "n_plays": 3, "session_status": "completed",
        "withdrawn": False, "headphone_passed": True, "prolific_pid": None,
    }


def _mark(table: pd.DataFrame, which: dict[str, list[int]], *, timeout: bool) -> None:
    """Turn listed scored trials (0-based) into time-outs or trials shown but never answered (the session ended)."""
    for listener, indices in which.items():
        for k in indices:
            mask = (table["listener"] == listener) & ~table["practice"] & (table["trial_index"] == k + 1)
            table.loc[mask, ["answer", "rt_ms"]] = None
            table.loc[mask, "correct"] = False
            table.loc[mask, "timed_out"] = timeout


def counts_table(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """A table where listener L gets k of n trials right (the first k)."""
    return hand_table({name: [1] * k + [0] * (n - k) for name, (k, n) in counts.items()})
