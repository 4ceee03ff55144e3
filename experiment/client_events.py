"""Events the participant's page reports (plays, replays, focus...): appended to the session, within its budget."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.errors import Conflict
from experiment.models import Event, ParticipantSession, Presentation
from experiment.session_rows import presentations, trial_key
from experiment.settings import StudySettings
from experiment.status import EVENT_KINDS, SessionStatus


LOGGING_STATUSES = frozenset({SessionStatus.ACTIVE.value, SessionStatus.COMPLETED.value})
"""Sessions that may still log events: taking part, or done with the trials (the page flushes the last trial's
plays and ends after its answer); never one withdrawn or out of time."""


def log_events(db: Session, s: ParticipantSession, events: list[dict[str, Any]], now: datetime,
               plan: list[Presentation] | None = None) -> int:
    """Append client events (validated by the caller) of an active session, each linked to the trial it names.

    Only a session still taking part may log, only about trials it has been shown, and only up to the study's
    `events_per_session`: a script cannot inflate play counts or fill the table.
    """
    if s.withdrawn or s.status not in LOGGING_STATUSES:
        raise Conflict("not_active", "this session has ended; no more events are taken")
    plan = presentations(db, s) if plan is None else plan
    by_key = {trial_key(p): p.id for p in plan if p.presented_utc is not None}
    unknown = sorted({str(e["trial"]) for e in events if e.get("trial") and e["trial"] not in by_key})
    if unknown:
        raise Conflict("trial_not_shown", f"events name trials this session has not been shown: {unknown[0]:.8}")
    budget = StudySettings.of(s.version.experiment).events_per_session
    logged = db.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.session_id == s.id, Event.kind.in_(sorted(EVENT_KINDS)))) or 0
    if logged + len(events) > budget:
        raise Conflict("event_budget_spent", f"this session has logged its {budget} events")
    for e in events:
        db.add(Event(session_id=s.id, presentation_id=by_key.get(e.get("trial") or ""), kind=e["kind"],
                     slot=e.get("slot"), client_ms=e.get("t"), detail=e.get("detail"), created_utc=now))
    s.last_seen_utc = now
    return len(events)
