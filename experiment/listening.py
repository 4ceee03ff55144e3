"""The server-side proof of listening: each audio fetch of a trial logged, and the slots both fetched and played."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.models import Event, ParticipantSession, Presentation


LISTEN_SLOTS = ("x", "a", "b")


MAX_FETCHES_LOGGED = 50
"""Audio fetches logged per presentation and slot (Safari asks in many ranges); later ones are served, not logged."""


def record_fetch(db: Session, s: ParticipantSession, p: Presentation, slot: str, now: datetime,
                 byte_range: str | None) -> None:
    """Log that the server handed out one slot's audio of a presentation (the server-side proof of listening)."""
    logged = db.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.presentation_id == p.id, Event.kind == "audio_fetch", Event.slot == slot)) or 0
    if logged < MAX_FETCHES_LOGGED:
        db.add(Event(session_id=s.id, presentation_id=p.id, kind="audio_fetch", slot=slot, created_utc=now,
                     detail={"range": byte_range[:64]} if byte_range else None))


def listened_slots(db: Session, p: Presentation) -> set[str]:
    """Slots of a presentation both fetched from the server and reported played by the page."""
    db.flush()
    rows = db.execute(sa.select(Event.kind, Event.slot).where(
        Event.presentation_id == p.id, Event.kind.in_(("audio_fetch", "play", "replay")), Event.slot.is_not(None)))
    fetched, played = set(), set()
    for kind, slot in rows:
        (fetched if kind == "audio_fetch" else played).add(slot)
    return fetched & played
