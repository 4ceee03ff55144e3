"""A study's settings as one typed, frozen object: one set of defaults, one validator, one reader.

Stored in `experiment.settings` (JSON) so a study's data can be read against the rules it ran under. Writing
goes through `StudySettings.checked` (unknown keys and bad values refused, one line naming the setting); reading
goes through `StudySettings.of` (a stored row that lacks a newer key gets the value the study actually ran with,
`absent` below; unknown stored keys are tolerated and logged). The CLI's `experiment create` options and the
admin's new-study form are checked against these fields by tests/experiment/test_settings.py.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from experiment.errors import ExperimentError
from experiment.texts import LANGUAGES, TEXT_LIMITS

log = logging.getLogger(__name__)

HEADPHONE_SCREENS = ("huggins", "huggins+antiphase")
SECOND_DEVICE_RULES = ("refuse", "recheck")
MAX_CATCH_TRIALS = 12
"""The most catch trials a study may ask for (more would dwarf the scored trials)."""
STATE_KEYS = ("archived_utc",)
"""Keys that were state, not settings, in rows stored before migration 0008 moved them to columns (read silently)."""


def _setting(default: Any, help_text: str, *, absent: Any = dataclasses.MISSING,  # noqa: ANN401 - any JSON value
             choices: tuple[str, ...] | None = None, lo: float | None = None, hi: float | None = None) -> Any:
    """A settings field: its default for a new study, its help, its allowed values and (if it differs from the
    default) the value a study stored before the setting existed ran with (`absent`)."""
    meta = {"help": help_text, "choices": choices, "lo": lo, "hi": hi}
    if absent is not dataclasses.MISSING:
        meta["absent"] = absent
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class StudySettings:
    """Every per-study setting, with its default for a new study."""

    session_cap_s: int = _setting(30 * 60, "Time cap of a whole session, seconds (then the place is given back).",
                                  lo=1, hi=24 * 3600)
    trial_limit_s: int = _setting(60, "Time limit of one trial, seconds (then it counts as timed out).",
                                  lo=1, hi=3600)
    headphone_trials: int = _setting(6, "Sounds in the headphone check (each test).", lo=1, hi=20)
    headphone_pass: int = _setting(5, "Sounds answered right to pass the headphone check (each test).",
                                   lo=1, hi=20)
    headphone_screen: str = _setting("huggins", "Huggins pitch alone (about 20% of loudspeaker users pass, Milne "
                                     "et al. 2021) or with the antiphase test, both to pass (about 7%).",
                                     choices=HEADPHONE_SCREENS)
    headphone_screen_out: bool = _setting(True, "A failed headphone check ends the session (screened out); "
                                          "otherwise the fail is recorded and the session goes on.")
    headphone_retries: int = _setting(0, "Retries (new sounds) after a failed headphone check before screen-out.",
                                      lo=0, hi=1)
    require_listening: bool = _setting(True, "Refuse an answer (409) until X, A and B were fetched from the "
                                       "server and played.", absent=False)
    second_device: str = _setting("refuse", "The same Prolific id on a second device: refused, or the session "
                                  "moves there after the headphone check again.", choices=SECOND_DEVICE_RULES)
    idle_release_s: int | None = _setting(10 * 60, "Give a place held by someone silent this many seconds to the "
                                          "next arrival (0 or none: only the time cap releases it).",
                                          absent=None, lo=0, hi=24 * 3600)
    require_prolific: bool = _setting(False, "Refuse arrivals without a PROLIFIC_PID.")
    prolific_study_id: str | None = _setting(None, "Refuse arrivals with another Prolific STUDY_ID (none: any).")
    places_per_client: int = _setting(3, "New places (plus refused consents) one client address may take per "
                                      "window; 0: no cap (raise it for a lab on one machine).", lo=0, hi=100_000)
    places_window_s: int = _setting(10 * 60, "The window of places_per_client, seconds.", lo=1, hi=7 * 24 * 3600)
    events_per_session: int = _setting(5000, "The most client events one session may log.", lo=100, hi=1_000_000)
    catch_trials: int = _setting(0, "Catch trials per session (X played again on one side), never scored.",
                                 lo=0, hi=MAX_CATCH_TRIALS)
    too_fast_ms: int = _setting(1000, "Answers sooner than this after a trial starts are flagged as too fast.",
                                lo=0, hi=60_000)
    language: str = _setting("en", "The participant pages' language.", choices=tuple(LANGUAGES))
    expected_minutes: int | None = _setting(20, "How long the study usually takes, as the landing and consent "
                                            "pages say (none: the default).", lo=1, hi=600)
    consent_text: str | None = _setting(None, "The researchers' own description, first on the consent page.")
    researcher_contact: str | None = _setting(None, "On the consent, withdrawal and debrief pages.")
    ethics_reference: str | None = _setting(None, "The ethics approval reference, on the consent page.")
    data_retention: str | None = _setting(None, "How long the data are kept, on the consent page.")
    completion_code: str | None = _setting(None, "Prolific completion code (set when the study is made).")
    screened_out_code: str | None = _setting(None, "Prolific code for a failed headphone check (set when made).")

    @classmethod
    def of(cls, experiment: Any) -> StudySettings:  # noqa: ANN401 - an Experiment row or None
        """The settings a stored study runs under (its row's `settings`; None: a new study's defaults)."""
        return cls.stored(getattr(experiment, "settings", None) if experiment is not None else None)

    @classmethod
    def stored(cls, raw: Mapping[str, Any] | None) -> StudySettings:
        """Read a stored settings dict: missing keys as the study ran before they existed, unknown keys noted."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(NAMES) - set(STATE_KEYS))
        if unknown:
            log.info("study settings: ignoring unknown stored keys %s", ", ".join(unknown))
        values = {f.name: raw[f.name] if f.name in raw else f.metadata.get("absent", f.default)
                  for f in dataclasses.fields(cls)}
        return cls(**values)

    @classmethod
    def checked(cls, given: Mapping[str, Any] | None) -> StudySettings:
        """New settings from `given` over the defaults, validated: ExperimentError with one line otherwise."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(NAMES))
        if unknown:
            raise ExperimentError(f"unknown study setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                                  f"(known: {', '.join(NAMES)})")
        return cls(**given).validated()

    @classmethod
    def checked_changes(cls, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Some settings of an existing study, validated alone (None or blank text: back to the default wording)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise ExperimentError(f"unknown study setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if value is not None:
                _check(fields[name], value)
            clean[name] = (value.strip() or None) if isinstance(value, str) and name not in ("language",) else value
        return clean

    def validated(self) -> StudySettings:
        """This object with texts cleaned, or ExperimentError naming the first bad setting."""
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))
        if self.headphone_pass > self.headphone_trials:
            raise ExperimentError(f"headphone_pass={self.headphone_pass} must be at most headphone_trials="
                                  f"{self.headphone_trials}")
        texts = {k: (getattr(self, k).strip() or None) if getattr(self, k) is not None else None
                 for k in (*TEXT_LIMITS, "prolific_study_id")}
        return dataclasses.replace(self, **texts)

    def as_dict(self) -> dict[str, Any]:
        """The settings as stored in the study's row."""
        return dataclasses.asdict(self)


NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(StudySettings))
DEFAULTS = StudySettings()


def _check(f: dataclasses.Field, value: Any) -> None:  # noqa: ANN401 - any stored JSON value
    """Refuse a value of the wrong type or outside the field's range (one line naming the setting)."""
    name, meta, kind = f.name, f.metadata, str(f.type)
    if value is None and "None" in kind:
        return
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise ExperimentError(f"{name}={value!r} must be true or false")
        return
    if kind.startswith("int"):
        lo, hi = meta["lo"], meta["hi"]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ExperimentError(f"{name}={value!r} must be a whole number from {lo} to {hi}")
        return
    if not isinstance(value, str):
        raise ExperimentError(f"{name} must be text, not {type(value).__name__}")
    if meta["choices"] and value not in meta["choices"]:
        raise ExperimentError(f"{name}={value!r} must be one of {', '.join(meta['choices'])}")
    limit = TEXT_LIMITS.get(name, 64 if name == "prolific_study_id" else 32 if name.endswith("_code") else None)
    if limit is not None and len(value.strip()) > limit:
        raise ExperimentError(f"{name} is {len(value.strip())} characters long; at most {limit} are allowed")
