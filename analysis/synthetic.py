"""Simulated study data in the exact export shape, for tests, the benchmark and demos (always seeded).

Each listener answers correctly with their own probability (optionally shifted per item on the
log-odds scale); trial order and the correct side are shuffled per listener, sides balanced. Each
listener does 4 practice trials, then every item of their version once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit

POSITIONS = ("beginning", "middle", "end")
PRACTICE_TRIALS = 4
START = pd.Timestamp("2026-11-25 09:00", tz="UTC")
TOO_FAST_MS = 1000.0
"""The study default `too_fast_ms` the simulated export flags answers against."""


def synthetic_table(n_listeners: int = 16, *, accuracy: float | Sequence[float] = 0.85, trials: int = 24,
                    n_songs: int = 4, sd_item: float = 0.0, timeout_rate: float = 0.0, seed: int = 0,
                    withdrawn: Iterable[int] = (), failed_headphone: Iterable[int] = (),
                    experiment_id: int = 1) -> pd.DataFrame:
    """A contract-shaped trial table (practice included) for `n_listeners` simulated listeners."""
    rng = np.random.default_rng(seed)
    acc = np.broadcast_to(np.asarray(accuracy, dtype=float), (n_listeners,))
    items = _items(trials, n_songs)
    shift = rng.normal(0.0, sd_item, size=len(items)) if sd_item > 0 else np.zeros(len(items))
    version = np.arange(n_listeners) % 2 + 1
    main_items = (version[:, None] - 1) * trials + rng.permuted(np.tile(np.arange(trials), (n_listeners, 1)), axis=1)
    p_main = expit(logit(np.clip(acc, 1e-9, 1 - 1e-9))[:, None] + shift[main_items])
    p = np.hstack([np.repeat(acc[:, None], PRACTICE_TRIALS, axis=1), p_main])
    item_idx = np.hstack([np.tile(np.arange(PRACTICE_TRIALS), (n_listeners, 1)), main_items])
    frame = items.iloc[item_idx.ravel()].reset_index(drop=True)
    frame["item"] = _practice_names(frame["item"].to_numpy(), n_listeners, trials)
    frame = _answers(frame, p, timeout_rate, rng, trials)
    return _listener_columns(frame, n_listeners, trials, version, set(withdrawn), set(failed_headphone),
                             experiment_id, rng)


def _items(trials: int, n_songs: int) -> pd.DataFrame:
    """Trial templates of two versions: `trials` items each, cycling through songs and positions."""
    j = np.tile(np.arange(trials), 2)
    version = np.repeat([1, 2], trials)
    song = j % n_songs
    return pd.DataFrame({
        "version": version, "item": [f"v{v}t{k + 1:02d}" for v, k in zip(version, j)],
        "song": [f"song{s + 1}" for s in song],
        "position": [POSITIONS[(k // n_songs) % len(POSITIONS)] for k in j],
        "eeg_participant": [f"p{(k + 6 * (v - 1)) % 12 + 1:02d}" for v, k in zip(version, j)],
        "foil_song": [f"song{(s + 1) % n_songs + 1}" for s in song],
        "foil_eeg_participant": [f"p{(k + 3) % 12 + 1:02d}" for k in j],
        "match_clip": [f"r{v}{k + 1:02d}" for v, k in zip(version, j)],
        "foil_clip": [f"r{3 - v}{k + 1:02d}" for v, k in zip(version, j)],
    })


def _practice_names(names: np.ndarray, n_listeners: int, trials: int) -> np.ndarray:
    """Practice items get their own ids, so they never collide with scored items."""
    names = names.reshape(n_listeners, PRACTICE_TRIALS + trials).copy()
    names[:, :PRACTICE_TRIALS] = [f"practice{k + 1:02d}" for k in range(PRACTICE_TRIALS)]
    return names.ravel()


def _answers(frame: pd.DataFrame, p: np.ndarray, timeout_rate: float, rng: np.random.Generator,
             trials: int) -> pd.DataFrame:
    """Practice flags, trial numbers, balanced sides, answers, time-outs and response times."""
    n_listeners, width = p.shape
    practice = np.zeros((n_listeners, width), dtype=bool)
    practice[:, :PRACTICE_TRIALS] = True
    index = np.hstack([np.arange(1, PRACTICE_TRIALS + 1), np.arange(1, trials + 1)])
    sides = np.hstack([rng.permuted(np.tile(np.resize(["A", "B"], n), (n_listeners, 1)), axis=1)
                       for n in (PRACTICE_TRIALS, trials)])
    correct = rng.random(p.shape) < p
    timed_out = (rng.random(p.shape) < timeout_rate) & ~practice
    answer = np.where(correct, sides, np.where(sides == "A", "B", "A")).astype(object)
    answer[timed_out] = None
    frame["practice"] = practice.ravel()
    frame["trial_index"] = np.tile(index, n_listeners)
    frame["correct_side"] = sides.ravel()
    frame["answer"] = answer.ravel()
    frame["correct"] = (correct & ~timed_out).ravel()
    frame["timed_out"] = timed_out.ravel()
    rt = np.round(rng.lognormal(np.log(9000), 0.4, p.shape))
    frame["rt_ms"] = np.where(timed_out, np.nan, rt).ravel()
    frame["n_plays"] = rng.integers(3, 8, p.size)
    frame["catch"] = False  # simulated studies have no catch trials
    frame["simulated"] = False  # stands for people's data (tests mark simulated listeners where they mean to)
    frame["playback"] = "ok"  # every clip heard to its end
    frame["too_fast"] = (~timed_out & (rt < TOO_FAST_MS)).ravel()  # the server's default floor
    frame["_spent_ms"] = np.where(timed_out, 60_000.0, rt).ravel()
    return frame


def _listener_columns(frame: pd.DataFrame, n_listeners: int, trials: int, version: np.ndarray,
                      withdrawn: set, failed: set, experiment_id: int, rng: np.random.Generator) -> pd.DataFrame:
    """Listener ids, version, status flags and server timestamps."""
    width = PRACTICE_TRIALS + trials
    ids = np.array([f"L{i + 1:04d}" for i in range(n_listeners)])
    frame.insert(0, "experiment_id", experiment_id)
    frame.insert(1, "listener", np.repeat(ids, width))
    frame["version"] = np.repeat(version, width)
    is_withdrawn = np.isin(np.arange(n_listeners), list(withdrawn))
    frame["withdrawn"] = np.repeat(is_withdrawn, width)
    frame["headphone_passed"] = np.repeat(~np.isin(np.arange(n_listeners), list(failed)), width)
    frame["session_status"] = np.repeat(np.where(is_withdrawn, "withdrawn", "completed"), width)
    frame["prolific_pid"] = None
    spent = frame.pop("_spent_ms").to_numpy().reshape(n_listeners, width)
    offset = np.cumsum(np.hstack([np.zeros((n_listeners, 1)), spent[:, :-1] + 2_000.0]), axis=1)
    offset += rng.integers(0, 600, n_listeners)[:, None] * 60_000.0
    presented = START + pd.to_timedelta(offset.ravel(), unit="ms")
    frame["presented_utc"] = presented
    answered = presented + pd.to_timedelta(spent.ravel(), unit="ms")
    frame["answered_utc"] = answered.where(~frame["timed_out"].to_numpy())
    return frame
