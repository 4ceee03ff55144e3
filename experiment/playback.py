"""Was every sound heard? The playback log (one `playback` event per play, static/js/abx.js) and the rule on it.

Per play the page records the audio context's state, start and end on the audio clock (seconds), the output
latency, the clip's duration, and whether it ended or was cut, with the cause (hidden: the tab was hidden;
device_change: the output device changed; suspended: the context stopped; replaced: another sound was started;
answered; time_up). The stated rule, per trial, over the three slots X, A and B:

- a play is *complete* when it ended (not cut) and the audio clock advanced by at least COMPLETE_SHARE of the
  clip's duration; a play *sounded* when the context was running and the clock advanced at all;
- a trial is `ok` when X, A and B each have a complete play; `cut_short` when each sounded but one never played
  to its end; `never_sounded` when one of them never sounded; `not_logged` when the trial has no playback record
  (sessions before this log, or a page that could not send it).

The analysis excludes `cut_short` and `never_sounded` trials from its primary results (experiment exports give the
flag per trial; analysis/exclusions.py applies it and keeps them in a sensitivity variant).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from experiment.models import Event, ParticipantSession, Presentation, Version

SLOTS = ("x", "a", "b")
COMPLETE_SHARE = 0.95
FLAGS = ("ok", "cut_short", "never_sounded", "not_logged")
COLUMNS = ("experiment_id", "listener", "version", "trial", "slot", "play", "ctx_state", "start_s", "end_s",
           "duration_s", "output_latency_s", "outcome", "cause", "sounded", "complete")


def judge(detail: dict[str, Any] | None) -> tuple[bool, bool]:
    """(sounded, complete) of one playback record by the stated rule."""
    d = detail or {}
    start, end, duration = _num(d.get("start_s")), _num(d.get("end_s")), _num(d.get("duration_s"))
    advanced = (end - start) if start is not None and end is not None else 0.0
    sounded = d.get("ctx_state") == "running" and advanced > 0
    complete = sounded and d.get("outcome") == "ended" and duration is not None and advanced >= COMPLETE_SHARE * duration
    return sounded, complete


def trial_flag(records: list[tuple[str | None, dict[str, Any] | None]]) -> str:
    """One trial's flag from its (slot, detail) playback records."""
    if not records:
        return "not_logged"
    sounded = {slot: False for slot in SLOTS}
    complete = dict(sounded)
    for slot, detail in records:
        if slot in sounded:
            s, c = judge(detail)
            sounded[slot] |= s
            complete[slot] |= c
    if not all(sounded.values()):
        return "never_sounded"
    return "ok" if all(complete.values()) else "cut_short"


def flags_by_presentation(engine: Engine, experiment_id: int) -> dict[int, str]:
    """Presentation id → flag, for every presentation of the study with a playback record (others: not_logged)."""
    query = (sa.select(Event.presentation_id, Event.slot, Event.detail)
             .join(ParticipantSession, Event.session_id == ParticipantSession.id)
             .where(ParticipantSession.experiment_id == experiment_id, Event.kind == "playback",
                    Event.presentation_id.is_not(None)))
    grouped: dict[int, list] = {}
    with engine.connect() as conn:
        for pid, slot, detail in conn.execute(query):
            grouped.setdefault(pid, []).append((slot, _detail(detail)))
    return {pid: trial_flag(records) for pid, records in grouped.items()}


def playback_table(engine: Engine, experiment_id: int, *, previews: bool = False) -> pd.DataFrame:
    """One row per logged play of X, A or B: the record as the page sent it, and the rule's verdict on it."""
    s, p = ParticipantSession, Presentation
    query = (sa.select(s.experiment_id, s.listener, Version.number, p.practice, p.order_index, Event.slot, Event.detail)
             .select_from(Event).join(s, s.id == Event.session_id).join(Version, Version.id == s.version_id)
             .join(p, p.id == Event.presentation_id)
             .where(s.experiment_id == experiment_id, s.preview.is_(previews), Event.kind == "playback")
             .order_by(s.id, p.practice.desc(), p.order_index, Event.id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    records, counter = [], {}
    for r in rows:
        d = _detail(r[6])
        trial = f"{'p' if r[3] else 't'}{r[4]}"
        key = (r[1], trial, r[5])
        counter[key] = counter.get(key, 0) + 1
        sounded, complete = judge(d)
        records.append({"experiment_id": r[0], "listener": r[1], "version": r[2], "trial": trial, "slot": r[5],
                        "play": counter[key], "ctx_state": d.get("ctx_state"), "start_s": _num(d.get("start_s")),
                        "end_s": _num(d.get("end_s")), "duration_s": _num(d.get("duration_s")),
                        "output_latency_s": _num(d.get("output_latency_s")), "outcome": d.get("outcome"),
                        "cause": d.get("cause"), "sounded": sounded, "complete": complete})
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for name in ("experiment_id", "version", "play"):
        frame[name] = frame[name].astype("int64")
    for name in ("start_s", "end_s", "duration_s", "output_latency_s"):
        frame[name] = frame[name].astype("float64")
    for name in ("sounded", "complete"):
        frame[name] = frame[name].astype("bool")
    for name in ("ctx_state", "outcome", "cause", "slot", "trial"):
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _detail(value: Any) -> dict[str, Any]:
    """An event's detail as a dict (PostgreSQL JSON gives a dict; a string is parsed)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float | None:
    """A finite number or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None
