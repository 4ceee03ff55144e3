"""Turn the tidy table into the scored trials of one analysis variant, stating everything left out.

Practice trials, catch trials and trials left unanswered when a session ended are never scored. The other
rules are choices, so each analysis is run in named variants (primary and sensitivity) and the record says
what each dropped. Catch trials (X played again on one side) exclude a listener who misses more of them than
`max_catch_misses`; answers faster than a floor (`too_fast_ms`, else the table's `too_fast` flags) are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import pandas as pd

from analysis.errors import AnalysisError

TIMEOUT_HANDLING = ("error", "exclude")
SCORED_COLUMNS = (
    "listener", "version", "item", "item_key", "trial_index", "song", "position", "eeg_participant",
    "correct_side", "answer", "correct", "timed_out", "rt_ms", "foil",
)
FOIL_KINDS = ("different song", "same song", "not recorded")


@dataclass(frozen=True)
class Rules:
    """The exclusion rules of one variant; recorded verbatim in results.json."""

    exclude_failed_headphone: bool = True
    exclude_withdrawn: bool = True
    timeouts: str = "error"
    exclude_failed_catch: bool = True
    max_catch_misses: int = 0
    """A listener who misses (answers wrongly or times out on) more catch trials than this is excluded."""
    exclude_too_fast: bool = True
    too_fast_ms: float | None = None
    """Answers faster than this are too fast; None takes the study's own `too_fast` flags from the table."""
    exclude_unheard: bool = True
    """Trials the playback log flags (`playback`: cut_short, never_sounded) are dropped; not_logged ones are kept."""
    exclude_simulated: bool = True
    """Simulated listeners (`simulated`) are excluded when the table also holds real ones; a table of simulated
    listeners only is analysed, and every output says the listeners were simulated."""

    def __post_init__(self) -> None:
        """Reject an unknown time-out handling or a bad threshold before any data is touched."""
        if self.timeouts not in TIMEOUT_HANDLING:
            raise AnalysisError(f"timeouts={self.timeouts!r} must be one of {', '.join(TIMEOUT_HANDLING)}")
        if isinstance(self.max_catch_misses, bool) or not isinstance(self.max_catch_misses, int) \
                or self.max_catch_misses < 0:
            raise AnalysisError(f"max_catch_misses={self.max_catch_misses!r} must be a whole number ≥ 0")
        if self.too_fast_ms is not None and not (isinstance(self.too_fast_ms, int | float)
                                                 and 0 <= self.too_fast_ms < 600_000):
            raise AnalysisError(f"too_fast_ms={self.too_fast_ms!r} must be a number of ms from 0 to 600000")

    def describe(self) -> list[str]:
        """State the rules in words for the report."""
        return [
            "practice trials are never scored",
            "trials left unanswered when the session ended (no answer, no time-out) are not scored",
            "listeners who failed the headphone check are "
            + ("excluded" if self.exclude_failed_headphone else "kept"),
            "withdrawn listeners are " + ("excluded" if self.exclude_withdrawn else "kept"),
            "timed-out trials are " + ("counted as errors" if self.timeouts == "error" else "excluded"),
            "catch trials are never scored; listeners who miss more than "
            + f"{self.max_catch_misses} of them are " + ("excluded" if self.exclude_failed_catch else "kept"),
            "answers faster than " + (f"{self.too_fast_ms:g} ms" if self.too_fast_ms is not None
                                      else "the study's floor (too_fast_ms)")
            + " are " + ("excluded" if self.exclude_too_fast else "kept"),
            "trials where the playback log shows a clip that never sounded or was cut short (and never heard to its "
            "end) are " + ("excluded" if self.exclude_unheard else "kept")
            + "; trials with no playback record (older sessions) are kept",
            "simulated listeners are " + ("excluded when real listeners are present (with simulated listeners "
                                          "only, they are analysed and labelled SIMULATED)"
                                          if self.exclude_simulated else "kept"),
        ]


def variants(*, exclude_failed_headphone: bool = True, exclude_failed_catch: bool = True,
             max_catch_misses: int = 0, exclude_too_fast: bool = True,
             too_fast_ms: float | None = None) -> dict[str, Rules]:
    """The primary analysis and its sensitivity variants, so every rule is seen applied both ways."""
    checks = {"max_catch_misses": max_catch_misses, "too_fast_ms": too_fast_ms}
    primary = Rules(exclude_failed_headphone=exclude_failed_headphone, exclude_failed_catch=exclude_failed_catch,
                    exclude_too_fast=exclude_too_fast, **checks)
    return {
        "primary": primary,
        "timeouts_excluded": replace(primary, timeouts="exclude"),
        "catch_and_fast_kept": replace(primary, exclude_failed_catch=False, exclude_too_fast=False),
        "unheard_kept": replace(primary, exclude_unheard=False),
        "no_listener_exclusions": Rules(exclude_failed_headphone=False, exclude_withdrawn=False,
                                        exclude_failed_catch=False, exclude_too_fast=False, exclude_unheard=False,
                                        **checks),
        # simulated listeners are never people: no variant mixes them into real listeners' results
    }


def score(table: pd.DataFrame, rules: Rules | None = None) -> tuple[pd.DataFrame, dict]:
    """Apply `rules`; return one row per scored trial and the stated record of what was excluded."""
    rules = rules or Rules()
    practice = table["practice"]
    catch = _flag(table, "catch")
    unanswered = ~practice & table["answer"].isna() & ~table["timed_out"]
    catch_per = catch_summary(table[catch & ~practice & ~unanswered], rules.max_catch_misses)
    shown = table[~practice & ~catch & ~unanswered]
    if shown.empty:
        raise AnalysisError("no scored trials: nobody has answered a main (non-practice) trial yet")
    excluded = _excluded_listeners(shown, rules, catch_per)
    kept = shown[~shown["listener"].isin(excluded["listener"])]
    unheard = unheard_trials(kept)
    n_unheard = {flag: int((kept["playback"] == flag).sum()) for flag in UNHEARD} if "playback" in kept else {}
    if rules.exclude_unheard:
        kept = kept[~unheard]
    fast = too_fast(kept, rules.too_fast_ms)
    n_fast = int(fast.sum())
    if rules.exclude_too_fast:
        kept = kept[~fast]
    timed_out = kept["timed_out"]
    if rules.timeouts == "exclude":
        kept = kept[~timed_out]
    if kept.empty:
        raise AnalysisError(f"no scored trials left after exclusions ({'; '.join(rules.describe()[2:])})")
    scored = _scored_frame(kept)
    record = _record(table, rules, practice, unanswered, excluded, int(timed_out.sum()), scored)
    record |= {"catch_trials_not_scored": int((catch & ~practice).sum()), "catch_by_listener": catch_per,
               "too_fast_trials": n_fast, "too_fast_handling": "excluded" if rules.exclude_too_fast else "kept",
               "unheard_trials": n_unheard, "unheard_handling": "excluded" if rules.exclude_unheard else "kept",
               "too_fast_by_listener": {str(k): int(v) for k, v in
                                        shown.loc[fast[fast].index, "listener"].value_counts().sort_index().items()}}
    return scored, record


def _flag(table: pd.DataFrame, column: str) -> pd.Series:
    """An optional boolean column (exports made before issue 15 have none: all False)."""
    if column not in table:
        return pd.Series(False, index=table.index)
    return table[column].fillna(False).astype(bool)


UNHEARD = ("cut_short", "never_sounded")
"""Playback-log flags (experiment/playback.py) of trials where a clip never sounded or was never heard to its end."""


def unheard_trials(trials: pd.DataFrame) -> pd.Series:
    """Trials the playback log flags as not fully heard (tables without the column: none)."""
    if "playback" not in trials:
        return pd.Series(False, index=trials.index)
    return trials["playback"].isin(UNHEARD)


def too_fast(trials: pd.DataFrame, floor_ms: float | None) -> pd.Series:
    """Answered trials faster than `floor_ms` (None: the table's own `too_fast` flags, from the study's setting)."""
    if floor_ms is None:
        return _flag(trials, "too_fast") & trials["answer"].notna()
    return trials["answer"].notna() & (trials["rt_ms"] < float(floor_ms))


def catch_summary(catch_trials: pd.DataFrame, max_misses: int) -> list[dict]:
    """Per listener with catch trials: how many were shown, answered right and missed, and whether they failed."""
    out = []
    for listener, rows in catch_trials.groupby("listener", sort=True):
        right = int(rows["correct"].astype(bool).sum())
        missed = int(len(rows) - right)
        out.append({"listener": str(listener), "catch_trials": int(len(rows)), "correct": right, "missed": missed,
                    "failed": missed > max_misses})
    return out


def _excluded_listeners(shown: pd.DataFrame, rules: Rules, catch_per: list[dict]) -> pd.DataFrame:
    """One row per excluded listener with every reason that applies and the trials dropped."""
    shown = shown.assign(simulated=_flag(shown, "simulated"))
    per = shown.groupby("listener", sort=True).agg(
        headphone_passed=("headphone_passed", "all"), withdrawn=("withdrawn", "any"),
        simulated=("simulated", "any"), trials=("trial_index", "size"))
    reasons = pd.Series([[] for _ in range(len(per))], index=per.index, dtype=object)
    if rules.exclude_failed_headphone:
        reasons = reasons.where(per["headphone_passed"], reasons.map(lambda r: r + ["failed headphone check"]))
    if rules.exclude_withdrawn:
        reasons = reasons.where(~per["withdrawn"], reasons.map(lambda r: r + ["withdrawn"]))
    if rules.exclude_failed_catch:
        failed = per.index.isin([c["listener"] for c in catch_per if c["failed"]])
        reasons = reasons.where(~failed, reasons.map(lambda r: r + ["failed catch trials"]))
    if rules.exclude_simulated and not per["simulated"].all():  # real listeners present: simulated ones go
        reasons = reasons.where(~per["simulated"], reasons.map(lambda r: r + ["simulated (not a person)"]))
    per["reasons"] = reasons
    out = per[per["reasons"].map(bool)].reset_index()
    return out[["listener", "reasons", "trials"]]


def _scored_frame(kept: pd.DataFrame) -> pd.DataFrame:
    """Keep the columns the statistics use; `item_key` makes items unique across versions."""
    scored = kept.copy()
    scored["item_key"] = scored["version"].astype(str) + ":" + scored["item"].astype(str)
    scored["correct"] = scored["correct"].astype(int)
    scored["foil"] = foil_kind(scored)
    return scored[list(SCORED_COLUMNS)].reset_index(drop=True)


def foil_kind(trials: pd.DataFrame) -> pd.Series:
    """'different song' (tests song identity) or 'same song' (tests time-specific information) per trial."""
    if "foil_song" not in trials:
        return pd.Series(FOIL_KINDS[2], index=trials.index)
    foil = trials["foil_song"]
    known = foil.notna() & (foil.astype(str) != "") & (foil.astype(str) != "(missing)")
    kind = pd.Series(FOIL_KINDS[0], index=trials.index).where(foil.astype(str) != trials["song"].astype(str),
                                                              FOIL_KINDS[1])
    return kind.where(known, FOIL_KINDS[2])


def _record(table: pd.DataFrame, rules: Rules, practice: pd.Series, unanswered: pd.Series,
            excluded: pd.DataFrame, n_timed_out: int, scored: pd.DataFrame) -> dict:
    """The stated list of exclusions, in numbers and by listener."""
    counts = excluded["reasons"].explode().value_counts()
    all_listeners = set(table["listener"])
    trials_per = scored.groupby("listener").size()
    return {
        "rules": asdict(rules),
        "rules_text": rules.describe(),
        "practice_trials_not_scored": int(practice.sum()),
        "unanswered_trials_not_scored": int(unanswered.sum()),
        "listeners_excluded": [
            {"listener": str(r.listener), "reasons": list(r.reasons), "trials": int(r.trials)}
            for r in excluded.itertuples()],
        "n_listeners_excluded_by_reason": {str(k): int(v) for k, v in counts.items()},
        "timed_out_trials": n_timed_out,
        "timed_out_handling": "counted as errors" if rules.timeouts == "error" else "excluded",
        "listeners_without_scored_trials": sorted(
            str(x) for x in all_listeners - set(scored["listener"]) - set(excluded["listener"])),
        "n_listeners_with_fewer_trials": int((trials_per < trials_per.max()).sum()),
        "n_listeners": int(scored["listener"].nunique()),
        "n_trials": int(len(scored)),
    }
