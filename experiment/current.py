"""Who is asking: the participant session behind the signed cookie, and the page their stage belongs on."""

from __future__ import annotations

from flask import abort, session, url_for

from experiment.models import Experiment, ParticipantSession
from experiment.session_rows import load
from experiment.status import SessionStatus, Stage
from experiment.webdb import get_db

STAGE_ENDPOINTS = {
    Stage.HEADPHONE.value: "participant.headphone",
    Stage.INSTRUCTIONS.value: "participant.instructions",
    Stage.TASK.value: "participant.task",
    Stage.QUESTIONNAIRE.value: "participant.questionnaire",
    Stage.DONE.value: "participant.debrief",
}


MAX_ID = 2**31 - 1
"""No row id is larger; a bigger number from the URL would overflow SQLite (500) or be refused by PostgreSQL."""


def study_or_404(experiment_id: int) -> Experiment:
    """The study, or a 404 that says so."""
    experiment = get_db().get(Experiment, experiment_id) if 0 < experiment_id <= MAX_ID else None
    if experiment is None:
        abort(404, f"there is no study {experiment_id}")
    return experiment


def token_for(experiment_id: int) -> str | None:
    """This browser's session token for the study, from the signed cookie."""
    tokens = session.get("p") or {}
    return tokens.get(str(experiment_id)) if isinstance(tokens, dict) else None


def remember(experiment_id: int, token: str) -> None:
    """Keep the session token in the signed cookie (one per study)."""
    tokens = dict(session.get("p") or {})
    tokens[str(experiment_id)] = token
    session["p"] = tokens
    session.permanent = True


def participant(experiment_id: int, *, lock: bool = True) -> ParticipantSession | None:
    """The participant session of this browser in this study, if any, row-locked unless `lock=False`.

    Locked by default because almost every request writes the session (last seen, time-outs): every writer
    of a session must hold its lock, or a time-out could land on an answer another request just committed.
    Pass `lock=False` only where nothing is written. A session never answers for a browser that arrived with
    another Prolific id (a shared lab computer): that is another person, who gets a session of their own.
    """
    s = load(get_db(), experiment_id, token_for(experiment_id), lock=lock)
    if s is not None and not same_person(s, prolific_ids(experiment_id).get("pid")):
        return None
    return s


def prolific_ids(experiment_id: int) -> dict[str, str | None]:
    """The Prolific ids this browser last arrived with for the study (PROLIFIC_PID, STUDY_ID, SESSION_ID)."""
    ids = session.get(f"prolific:{experiment_id}")
    return ids if isinstance(ids, dict) else {}


def same_person(s: ParticipantSession, pid: str | None) -> bool:
    """Whether a browser that arrived with Prolific id `pid` (None: none given) may continue session `s`."""
    return not pid or pid == s.prolific_pid


HELD_PER_STUDY = 8
"""Sessions one browser remembers having held in a study (a shared lab computer used by several people)."""


def forget(experiment_id: int) -> None:
    """Drop this browser's session token for the study (someone else is at the keyboard now).

    The token is remembered as once held here, so the person it belongs to can come back to it on this same
    device (their Prolific link again); another device never held it and falls under the study's second-device rule.
    """
    tokens = dict(session.get("p") or {})
    token = tokens.pop(str(experiment_id), None)
    if token is not None:
        session["p"] = tokens
        held = dict(session.get("held") or {})
        earlier = [t for t in held.get(str(experiment_id), []) if t != token]
        held[str(experiment_id)] = (earlier + [token])[-HELD_PER_STUDY:]
        session["held"] = held


def held_tokens(experiment_id: int) -> frozenset[str]:
    """The session tokens this browser held in the study before another person took it over."""
    held = session.get("held") or {}
    tokens = held.get(str(experiment_id), []) if isinstance(held, dict) else []
    return frozenset(t for t in tokens if isinstance(t, str))


def stage_url(s: ParticipantSession) -> str:
    """Where a session belongs now (the withdrawn page once withdrawn, the time-out page once out of time)."""
    if s.withdrawn:
        return url_for("participant.withdrawn", experiment_id=s.experiment_id)
    if s.status in (SessionStatus.TIMED_OUT.value, SessionStatus.ABANDONED.value):
        return url_for("participant.time_up", experiment_id=s.experiment_id)
    if s.status == SessionStatus.SCREENED_OUT.value:
        return url_for("participant.screened_out", experiment_id=s.experiment_id)
    return url_for(STAGE_ENDPOINTS[s.stage], experiment_id=s.experiment_id)
