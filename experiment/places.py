"""How many new places one client may take in a study: a per-client budget counted in the database.

The rate limiter's counters are per worker (memory://), so the cap on places is counted where every worker sees
it: each consent event (a place taken) and each refused consent carries an HMAC of the server secret, the study
and the client's address (no raw address is stored). `assign` counts them under the version lock it already
takes, so concurrent arrivals from one client cannot both slip under the cap.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.models import Event, Experiment, ParticipantSession
from experiment.settings import DEFAULTS, StudySettings

DEFAULT_PLACES_PER_CLIENT = DEFAULTS.places_per_client
DEFAULT_WINDOW_S = DEFAULTS.places_window_s
TAKEN = "consent"
REFUSED = "consent_refused"


@dataclass(frozen=True)
class ClientBudget:
    """At most `places` arrivals (places taken plus refused consents) per client per `window_s`; None: no cap."""

    places: int | None = DEFAULT_PLACES_PER_CLIENT
    window_s: float = DEFAULT_WINDOW_S

    @classmethod
    def of(cls, experiment: Experiment) -> ClientBudget:
        """The study's recorded budget (studies made before the setting get the default; 0 or None turns it off)."""
        s = StudySettings.of(experiment)
        places, window = s.places_per_client, s.places_window_s
        return cls(int(places) if isinstance(places, int) and places > 0 else None,
                   float(window) if isinstance(window, int | float) and window > 0 else DEFAULT_WINDOW_S)


def client_key(secret: str, experiment_id: int, address: str) -> str:
    """A stable pseudonym of one client address in one study (HMAC-SHA256, hex): never the raw address."""
    message = f"tuneback-client|{experiment_id}|{address}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def arrivals(db: Session, experiment_id: int, client: str, now: datetime, window_s: float) -> int:
    """Places this client took plus consents of theirs refused, in this study within the window."""
    since = now - timedelta(seconds=window_s)
    tagged = Event.detail["client"].as_string() == client
    taken = db.scalar(sa.select(sa.func.count()).select_from(Event)
                      .join(ParticipantSession, Event.session_id == ParticipantSession.id)
                      .where(ParticipantSession.experiment_id == experiment_id, ParticipantSession.started_utc > since,
                             Event.kind == TAKEN, tagged))
    refused = db.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.session_id.is_(None), Event.kind == REFUSED, Event.created_utc > since, tagged))
    return int(taken or 0) + int(refused or 0)


def spent(db: Session, experiment: Experiment, client: str | None, now: datetime) -> bool:
    """Whether this client has used up the study's budget of arrivals (no client or no cap: never)."""
    budget = ClientBudget.of(experiment)
    if client is None or budget.places is None:
        return False
    return arrivals(db, experiment.id, client, now, budget.window_s) >= budget.places


def record_refusal(db: Session, experiment: Experiment, client: str | None, now: datetime) -> None:
    """Count a refused consent (no or wrong Prolific id) against the client, once per unspent budget; commits."""
    if client is None or spent(db, experiment, client, now):
        db.rollback()
        return  # a spent budget writes nothing more: a flood cannot turn refusals into rows
    db.add(Event(session_id=None, kind=REFUSED, detail={"client": client}, created_utc=now))
    db.commit()
