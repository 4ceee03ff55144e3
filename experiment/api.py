"""The JSON API behind the task page (state, present, answer, events) and the opaque audio URLs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for

from experiment.current import participant, stage_url
from experiment.headphone import antiphase_trial, calibration_noise, huggins_trial
from experiment.models import Clip, ParticipantSession, Presentation, TrialTemplate
from experiment.ranges import RangeNotSatisfiable, parse_range
from experiment.security import error_response
from experiment.settings import StudySettings
from experiment.client_events import log_events
from experiment.errors import Conflict
from experiment.headphone_check import (
    antiphase_answers, antiphase_sound_seed, headphone_answers, headphone_seed, headphone_sound_seed, uses_antiphase,
)
from experiment.listening import record_fetch
from experiment.session_rows import current, trial_key
from experiment.timing import Limits, enforce_time, touch
from experiment.trials import TaskState, answer, present, task_state
from experiment.audio import ClipIntegrityError, verified_bytes
from experiment.status import EVENT_KINDS, Stage
from experiment.tokens import audio_token, same_token
from experiment.webdb import get_db, grace_s, now

bp = Blueprint("api", __name__, url_prefix="/api/study/<int:experiment_id>")

TRIAL_RE = re.compile(r"^[pt]\d{1,3}$")
ANSWER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SLOTS = ("x", "a", "b")
EVENT_SLOTS = frozenset({*SLOTS, "cal", *(f"hp{k}" for k in range(1, 10)), *(f"ap{k}" for k in range(1, 10))})
MAX_EVENTS = 100


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict) -> Response:
    """A request that does not fit the session's state: 409 with the reason and the current state."""
    response = error_response(409, exc.code, exc.message)
    get_db().rollback()  # the failed request's changes go; the lock is taken afresh below
    s = participant(request.view_args["experiment_id"]) if request.view_args else None
    if s is not None:
        payload = response.get_json()
        payload["state"] = _state(s, touch(get_db(), s, now(), grace_s=grace_s()))
        get_db().commit()
        response = jsonify(payload)
        response.status_code = 409
    return response


@bp.get("/state")
def state(experiment_id: int) -> Response:
    """Where this participant stands: stage, progress, the current trial and its time left."""
    s = _session(experiment_id)
    plan = touch(get_db(), s, now(), grace_s=grace_s())
    body = _state(s, plan)
    get_db().commit()
    return jsonify(body)


@bp.post("/present")
def present_trial(experiment_id: int) -> Response:
    """Start the current trial's minute (once) and hand out its three audio URLs."""
    body = _json()
    trial = _field(body, "trial", TRIAL_RE)
    s = _session(experiment_id)
    plan = present(get_db(), s, trial, now(), grace_s=grace_s())
    payload = _state(s, plan)
    get_db().commit()
    return jsonify(payload)


@bp.post("/answer")
def answer_trial(experiment_id: int) -> Response:
    """Record A or B for the current trial, at most once per client answer id, committed before replying."""
    body = _json()
    trial = _field(body, "trial", TRIAL_RE)
    side = body.get("answer")
    if side not in ("A", "B"):
        abort(400, "answer must be 'A' or 'B'")
    client_id = _field(body, "id", ANSWER_ID_RE)
    s = _session(experiment_id)
    result = answer(get_db(), s, trial=trial, side=side, client_id=client_id, now=now(),
                    grace_s=grace_s())
    p, plan = result.presentation, result.plan
    payload: dict[str, Any] = {"recorded": True, "repeated": result.repeated, "trial": trial_key(p),
                               "answer": p.answer}
    if p.practice:
        payload["feedback"] = {"correct": bool(p.correct), "correct_side": p.correct_side}
    payload["state"] = _state(s, plan)
    get_db().commit()
    return jsonify(payload)


@bp.post("/events")
def events(experiment_id: int) -> Response:
    """Append the page's events (plays, ends, replays, tab hide/show…) to the log."""
    body = _json()
    batch = body.get("events")
    if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_EVENTS:
        abort(400, f"events must be a list of 1 to {MAX_EVENTS} objects")
    clean = [_event(e, i) for i, e in enumerate(batch)]
    s = _session(experiment_id)
    plan = touch(get_db(), s, now(), grace_s=grace_s())  # a session past its limits has ended: no events then
    n = log_events(get_db(), s, clean, now(), plan)
    get_db().commit()
    return jsonify(logged=n)


@bp.get("/audio/<token>")
def audio(experiment_id: int, token: str) -> Response:
    """Serve one clip of the current trial (or a headphone sound) by its opaque token, with byte ranges."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        abort(404, "no such audio")
    s = _session(experiment_id)  # locked: a trial limit passing now is recorded here
    plan = enforce_time(get_db(), s, now(), grace_s=grace_s())
    source = _audio_source(s, plan, token)
    get_db().commit()  # the lock is released before the file is read or the sound made
    if source is None:
        abort(404, "no such audio for this trial")
    try:
        data = source()
    except (ClipIntegrityError, OSError):  # changed or gone on disk: never serve unverified bytes
        return error_response(503, "clip_unavailable", "this sound cannot be served right now; the researchers "
                              "have been told")
    return _ranged(data)


@bp.get("/simulation")
def simulation_check(experiment_id: int) -> Response:
    """For `tuneback experiment simulate`, before its listeners start: is the key right, is the study open, how
    many places are free and how many trials a listener does. 403 (wrong or missing key) and 404 say why."""
    from experiment.current import study_or_404
    from experiment.simulation import HEADER, key_status

    experiment = study_or_404(experiment_id)
    status = key_status(current_app.config["SECRET_KEY"], experiment_id, request.headers.get(HEADER))
    if status is not True:
        what = "no" if status is None else "a wrong"
        abort(403, f"{what} simulation key for study {experiment_id}: run `tuneback experiment simulate` where the "
                   f"server's secret key is (same instance folder or SECRET_KEY), or pass --key from the admin panel")
    limits = Limits.of(experiment)
    from experiment.assignment import occupancy

    filled = occupancy(get_db(), experiment_id, now(), limits.session_cap_s, limits.idle_release_s)
    free = sum(max(0, v.quota - filled.get(v.id, 0)) for v in experiment.versions)
    counts = [(sum(t.practice for t in v.templates), sum(not t.practice for t in v.templates))
              for v in experiment.versions]

    get_db().commit()
    return jsonify(study=experiment_id, name=experiment.name, state=experiment.state, places_free=free,
                   practice=max((c[0] for c in counts), default=0),
                   trials=max((c[1] for c in counts), default=0) + StudySettings.of(experiment).catch_trials)


# ------------------------------------------------------------------------------------------------- helpers


def headphone_urls(s: ParticipantSession, n: int) -> dict[str, str]:
    """URLs of the calibration noise and the n headphone-check sounds of a session (and n antiphase sounds)."""
    secret = current_app.config["SECRET_KEY"]
    slots = ["cal", *(f"hp{k}" for k in range(1, n + 1))]
    if uses_antiphase(s.version.experiment):
        slots += [f"ap{k}" for k in range(1, n + 1)]
    return {slot: url_for("api.audio", experiment_id=s.experiment_id,
                          token=audio_token(secret, s.id, None, slot)) for slot in slots}


def _trial_urls(s: ParticipantSession, p: Presentation) -> dict[str, str]:
    """The three opaque URLs of a presented trial."""
    secret = current_app.config["SECRET_KEY"]
    return {slot: url_for("api.audio", experiment_id=s.experiment_id, token=audio_token(secret, s.id, p.id, slot))
            for slot in SLOTS}


def _audio_source(s: ParticipantSession, plan: list[Presentation], token: str) -> Callable[[], bytes] | None:
    """Which sound the token names among those this session may hear right now (made or read later, unlocked)."""
    secret = current_app.config["SECRET_KEY"]
    if s.stage == Stage.HEADPHONE.value:
        n = StudySettings.of(s.version.experiment).headphone_trials
        seed = headphone_seed(s)
        if same_token(token, audio_token(secret, s.id, None, "cal")):
            return lambda: calibration_noise(seed)
        truth = headphone_answers(s, n)
        for k in range(1, n + 1):
            if same_token(token, audio_token(secret, s.id, None, f"hp{k}")):
                return lambda k=k, sound=headphone_sound_seed(s, k): huggins_trial(truth[k - 1], seed=sound)
        if uses_antiphase(s.version.experiment):
            quietest = antiphase_answers(s, n)
            for k in range(1, n + 1):
                if same_token(token, audio_token(secret, s.id, None, f"ap{k}")):
                    return lambda k=k, sound=antiphase_sound_seed(s, k): antiphase_trial(quietest[k - 1], seed=sound)
        return None
    cur = current(plan) if s.stage == Stage.TASK.value else None
    if cur is None or cur.presented_utc is None:
        return None
    for slot in SLOTS:
        if same_token(token, audio_token(secret, s.id, cur.id, slot)):
            record_fetch(get_db(), s, cur, slot, now(), request.headers.get("Range"))
            clip = _clip_for(cur, slot)
            path, sha256 = clip.file_path, clip.sha256
            return lambda: verified_bytes(path, sha256)
    return None


def _clip_for(p: Presentation, slot: str) -> Clip:
    """X is the target; A and B are the match and the foil, by the session's drawn side.

    In a catch trial the correct side plays X's own clip again (same file, same route, same headers).
    """
    t: TrialTemplate = p.template
    if slot == "x":
        return t.target_clip
    match_slot = "a" if p.correct_side == "A" else "b"
    if slot == match_slot:
        return t.target_clip if p.catch else t.match_clip
    return t.foil_clip


def _ranged(data: bytes) -> Response:
    """200 or 206 with exactly the same headers for every clip: no ETag, no dates, no names, no caching."""
    size = len(data)
    try:
        span = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable:
        response = error_response(416, "range_not_satisfiable", f"the audio has {size} bytes")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        response = Response(data, status=200, mimetype="audio/wav")
    else:
        start, end = span
        response = Response(data[start:end + 1], status=206, mimetype="audio/wav")
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _state(s: ParticipantSession, plan: list[Presentation]) -> dict[str, Any]:
    """The state object the page script renders (no clip ids, songs or sides of unanswered trials)."""
    st: TaskState = task_state(get_db(), s, plan, now())
    limits = Limits.of(s.version.experiment)
    body: dict[str, Any] = {
        "stage": st.stage,
        "progress": {"practice_done": st.done_practice, "practice_total": st.n_practice,
                     "trials_done": st.done_trials, "trials_total": st.n_trials},
        "session_remaining_ms": int(st.session_remaining_s * 1000),
        "trial_limit_ms": int(limits.trial_limit_s * 1000),
        "volume": s.volume if s.volume is not None else 1.0,
        "intermission": st.intermission,
        "trial": None,
    }
    if s.withdrawn or st.stage != Stage.TASK.value or st.trial is None:
        body["redirect"] = stage_url(s)
        return body
    p = st.trial
    body["trial"] = {
        "id": trial_key(p), "practice": p.practice, "index": p.order_index,
        "total": st.n_practice if p.practice else st.n_trials, "presented": p.presented_utc is not None,
        "remaining_ms": None if st.remaining_s is None else int(st.remaining_s * 1000),
        "audio": _trial_urls(s, p) if p.presented_utc is not None else None,
    }
    return body


def _session(experiment_id: int, *, lock: bool = True) -> ParticipantSession:
    """The caller's session, or 401: every API call belongs to a participant."""
    s = participant(experiment_id, lock=lock)
    if s is None:
        abort(401, "no study session in this browser: start from the study link")
    return s


def _json() -> dict[str, Any]:
    """The request's JSON object, or 400."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # "[[[[…" nested past the parser's recursion limit fits in 64 KB; silent= misses it
        abort(400, "the JSON body is nested too deeply")
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object (Content-Type: application/json)")
    return body


def _field(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    """A required string field matching `pattern`, or 400 naming it."""
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        abort(400, f"field {name!r} is missing or malformed")
    return value


def _event(e: Any, i: int) -> dict[str, Any]:
    """One validated client event (kind, optional slot, trial, client time t in ms, small detail)."""
    if not isinstance(e, dict):
        abort(400, f"events[{i}] must be an object")
    kind, slot, trial, t, detail = e.get("kind"), e.get("slot"), e.get("trial"), e.get("t"), e.get("detail")
    if kind not in EVENT_KINDS:
        abort(400, f"events[{i}].kind must be one of {', '.join(sorted(EVENT_KINDS))}")
    if slot is not None and slot not in EVENT_SLOTS:
        abort(400, f"events[{i}].slot is not a known slot")
    if trial is not None and (not isinstance(trial, str) or not TRIAL_RE.fullmatch(trial)):
        abort(400, f"events[{i}].trial is malformed")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t)):
        abort(400, f"events[{i}].t must be a finite number (ms)")
    if detail is not None and (not isinstance(detail, dict) or len(repr(detail)) > 1000):
        abort(400, f"events[{i}].detail must be a small object")
    return {"kind": kind, "slot": slot, "trial": trial, "t": t, "detail": detail}
