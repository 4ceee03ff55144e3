"""The participant's pages: landing → consent → headphones → instructions → task → questionnaire → debrief."""

from __future__ import annotations

import math

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from experiment.current import MAX_ID, forget, held_tokens, participant, prolific_ids, remember, stage_url, study_or_404
from experiment.db import begin_read
from experiment.facts import StudyFacts
from experiment.forms import ConsentForm, ContinueForm, HeadphoneForm, QuestionnaireForm
from experiment.models import Experiment, ParticipantSession
from experiment.places import client_key, record_refusal
from experiment.assignment import Prolific, assign, occupancy
from experiment.headphone_check import submit_headphone, uses_antiphase
from experiment.session_end import PARTICIPANT_WITHDRAWAL, submit_questionnaire, withdraw_by_participant
from experiment.timing import Limits, touch
from experiment.trials import start_task
from experiment.settings import StudySettings
from experiment.simulation import HEADER as SIM_HEADER
from experiment.simulation import key_status
from experiment.status import ExperimentState, SessionStatus, Stage
from experiment.texts import StudyTexts
from experiment.throttle import client_address
from experiment.webdb import get_db, grace_s, now

bp = Blueprint("participant", __name__)


@bp.context_processor
def _study_facts() -> dict[str, object]:
    """Every participant page can quote the study's own counts and limits (`facts`), never hard-coded ones."""
    experiment_id = (request.view_args or {}).get("experiment_id")
    helpers: dict[str, object] = {"withdraw_url": _withdraw_url(experiment_id)}
    db = get_db()
    if not (isinstance(experiment_id, int) and 0 < experiment_id <= MAX_ID) or not db.is_active:
        return helpers  # an error page after a failed write (its transaction is gone) needs no facts
    try:
        experiment = db.get(Experiment, experiment_id)
        if experiment is None:
            return helpers
        return {**helpers, "facts": StudyFacts.of(db, experiment), "texts": StudyTexts.of(StudySettings.of(experiment))}
    except SQLAlchemyError:  # the error page must render whatever state the database session is in
        return helpers

PROLIFIC_PARAMS = {"PROLIFIC_PID": "pid", "STUDY_ID": "study_id", "SESSION_ID": "session_id"}


@bp.get("/")
def index() -> Response | str:
    """Send visitors to the newest open study."""
    db = get_db()
    begin_read(db)
    newest = db.scalar(select(Experiment.id).where(Experiment.state == ExperimentState.OPEN.value)
                       .order_by(Experiment.id.desc()).limit(1))
    if newest is None:
        return render_template("participant/closed.html", experiment=None)
    # only Prolific's own ids travel on (any other key could clash with url_for's own arguments: a 500)
    ids = {param: value for param in PROLIFIC_PARAMS if (value := _clean_id(request.args.get(param)))}
    return redirect(url_for("participant.landing", experiment_id=newest, **ids))


@bp.get("/study/<int:experiment_id>/")
def landing(experiment_id: int) -> Response | str:
    """Show what the study is; remember Prolific's ids; send returning participants back to their stage."""
    begin_read(get_db())  # the landing page writes nothing
    experiment = study_or_404(experiment_id)
    ids = {key: _clean_id(request.args.get(param)) for param, key in PROLIFIC_PARAMS.items()}
    if any(ids.values()):
        session[f"prolific:{experiment_id}"] = ids
    s = participant(experiment_id, lock=False)
    if s is not None:
        return redirect(stage_url(s))
    if ids["pid"]:  # a new Prolific id in this browser is a new person: never let them into the last one's session
        forget(experiment_id)
    if experiment.state != ExperimentState.OPEN.value:
        return render_template("participant/closed.html", experiment=experiment)
    refused = _prolific_refusal(experiment, prolific_ids(experiment_id))
    if refused:
        return render_template("participant/prolific_only.html", experiment=experiment, message=refused), 403
    if _all_full(experiment):
        return render_template("participant/full.html", experiment=experiment)
    return render_template("participant/landing.html", experiment=experiment, limits=Limits.of(experiment))


@bp.route("/study/<int:experiment_id>/consent", methods=["GET", "POST"])
def consent(experiment_id: int) -> Response | str:
    """Ask for consent; on agreement assign a version (or say the study is full) and start the session."""
    experiment = study_or_404(experiment_id)
    s = participant(experiment_id, lock=False)
    if s is not None:
        return redirect(stage_url(s))
    form = ConsentForm()
    if form.validate_on_submit():
        if form.decline.data:
            return render_template("participant/declined.html", experiment=experiment)
        if form.all_ticked():
            return _assign(experiment)
        form.form_errors.append(gettext("Please tick every statement to take part, or choose “I do not agree”."))
    elif request.method == "POST":
        abort(400, "the consent form was incomplete")
    return render_template("participant/consent.html", experiment=experiment, form=form,
                           limits=Limits.of(experiment))


def _assign(experiment: Experiment) -> Response | str:
    """Run the locked assignment and route the participant by its outcome."""
    ids = prolific_ids(experiment.id)
    simulated = key_status(current_app.config["SECRET_KEY"], experiment.id, request.headers.get(SIM_HEADER))
    if simulated is False:
        abort(403, f"the {SIM_HEADER} key is not this study's simulation key: copy it from the admin panel, or run "
                   "`tuneback experiment simulate` where the server's secret key is")
    client = None if simulated else client_key(current_app.config["SECRET_KEY"], experiment.id, client_address())
    refused = None if simulated else _prolific_refusal(experiment, ids)
    if refused:  # a refused arrival spends the client's budget of places too (a flood gets none)
        record_refusal(get_db(), experiment, client, now())
        return render_template("participant/prolific_only.html", experiment=experiment, message=refused), 403
    prolific = Prolific(ids.get("pid"), ids.get("study_id"), ids.get("session_id"))
    result = assign(get_db(), experiment.id, now=now(), prolific=prolific,
                    user_agent=request.headers.get("User-Agent"), grace_s=grace_s(),
                    secret=current_app.config["SECRET_KEY"], client=client, simulated=bool(simulated),
                    device_rule=StudySettings.of(experiment).second_device, held=held_tokens(experiment.id))
    if result.outcome in ("new", "resumed", "moved"):
        remember(experiment.id, result.session.token)
        return redirect(stage_url(result.session))
    if result.outcome == "already_done":  # say so, and give back what they are owed (code or time-up)
        return _already(experiment, result.session), 409
    if result.outcome == "other_device":
        return render_template("participant/other_device.html", experiment=experiment), 409
    if result.outcome == "full":
        return render_template("participant/full.html", experiment=experiment)
    if result.outcome == "client_spent":
        return render_template("participant/busy.html", experiment=experiment), 429
    return render_template("participant/closed.html", experiment=experiment)


def _prolific_refusal(experiment: Experiment, ids: dict[str, str | None]) -> str | None:
    """Why this arrival may not take a place, when the study admits only its own Prolific participants."""
    settings = StudySettings.of(experiment)
    if settings.require_prolific and not ids.get("pid"):
        return gettext("This study is open only to participants recruited on Prolific: please start it from its "
                       "link on Prolific.")
    expected = settings.prolific_study_id
    if expected and ids.get("study_id") != expected:
        return gettext("This link does not belong to this study’s Prolific listing: please start from the link on "
                       "Prolific.")
    return None


def _already(experiment: Experiment, s: ParticipantSession) -> str:
    """The 'already taken part' page: with the completion code again for a finished session (a lost debrief tab),
    the time-up notice for one that ran out of time."""
    if not s.withdrawn and s.status == SessionStatus.SCREENED_OUT.value:
        return _screened_out_page(experiment, s)
    finished = not s.withdrawn and s.status == SessionStatus.COMPLETED.value
    code = (s.completion_code or StudySettings.of(experiment).completion_code) if finished else None
    prolific_url = current_app.config["PROLIFIC_COMPLETE_URL"].format(code=code) if code and s.prolific_pid else None
    timed_out = not s.withdrawn and s.status in (SessionStatus.TIMED_OUT.value, SessionStatus.ABANDONED.value)
    return render_template("participant/already.html", experiment=experiment, code=code, prolific_url=prolific_url,
                           timed_out=timed_out)


@bp.route("/study/<int:experiment_id>/headphones", methods=["GET", "POST"])
def headphone(experiment_id: int) -> Response | str:
    """Set the volume, then the Huggins-pitch headphone check (scored on the server)."""
    s, early = _at_stage(experiment_id, Stage.HEADPHONE)
    if early:
        return early
    n = StudySettings.of(study_or_404(experiment_id)).headphone_trials
    form = HeadphoneForm()
    if form.validate_on_submit():
        responses = [_interval(request.form.get(f"t{k}")) for k in range(1, n + 1)]
        if None in responses:
            abort(400, f"answer all {n} headphone questions with 1, 2 or 3")
        second = None
        if uses_antiphase(s.version.experiment):
            second = [_interval(request.form.get(f"a{k}")) for k in range(1, n + 1)]
            if None in second:
                abort(400, f"answer all {n} questions of the second headphone test with 1, 2 or 3")
        outcome = submit_headphone(get_db(), s, responses, _volume(form.volume.data), now(), antiphase=second)
        get_db().commit()
        if outcome == "retry":  # the same page, with new sounds and a word on why
            return redirect(url_for("participant.headphone", experiment_id=experiment_id))
        return redirect(stage_url(s))
    if request.method == "POST":
        abort(400, "the headphone form was invalid")
    get_db().commit()
    from experiment.api import headphone_urls  # the audio URLs live with the audio route

    from experiment.headphone_check import HeadphonePolicy

    policy = HeadphonePolicy.of(s.version.experiment)
    retry_left = policy.screen_out and (s.headphone_attempts or 0) < policy.retries
    return render_template("participant/headphone.html", form=form, session=s, n_trials=n,
                           urls=headphone_urls(s, n), retrying=bool(s.headphone_attempts),
                           n_pass=StudySettings.of(study_or_404(experiment_id)).headphone_pass,
                           screen_out=policy.screen_out, retry_left=retry_left,
                           antiphase=uses_antiphase(s.version.experiment))


@bp.route("/study/<int:experiment_id>/instructions", methods=["GET", "POST"])
def instructions(experiment_id: int) -> Response | str:
    """Explain the AB-X task; the button starts the practice trials."""
    s, early = _at_stage(experiment_id, Stage.INSTRUCTIONS)
    if early:
        return early
    form = ContinueForm()
    if form.validate_on_submit():
        start_task(get_db(), s, now())
        get_db().commit()
        return redirect(stage_url(s))
    get_db().commit()
    limits = Limits.of(study_or_404(experiment_id))
    return render_template("participant/instructions.html", form=form, session=s, limits=limits)


@bp.get("/study/<int:experiment_id>/task")
def task(experiment_id: int) -> Response | str:
    """The AB-X page; static/js/abx.js drives it through the JSON API."""
    s, early = _at_stage(experiment_id, Stage.TASK)
    if early:
        return early
    get_db().commit()
    return render_template("participant/task.html", session=s, experiment_id=experiment_id)


@bp.route("/study/<int:experiment_id>/questionnaire", methods=["GET", "POST"])
def questionnaire(experiment_id: int) -> Response | str:
    """A few questions about the listener and the listening conditions."""
    s, early = _at_stage(experiment_id, Stage.QUESTIONNAIRE)
    if early:
        return early
    form = QuestionnaireForm()
    if form.validate_on_submit():
        submit_questionnaire(get_db(), s, form.answers(), now())
        get_db().commit()
        return redirect(stage_url(s))
    if request.method == "POST":
        abort(400, "the questionnaire was invalid: " + "; ".join(
            f"{name}: {', '.join(errors)}" for name, errors in form.errors.items()))
    get_db().commit()
    return render_template("participant/questionnaire.html", form=form, session=s)


@bp.get("/study/<int:experiment_id>/debrief")
def debrief(experiment_id: int) -> Response | str:
    """Thank the participant, explain the study and give the completion code (or the way back to Prolific)."""
    s, early = _at_stage(experiment_id, Stage.DONE)
    if early:
        return early
    experiment = study_or_404(experiment_id)
    code = StudySettings.of(experiment).completion_code
    if s.completion_code is None:
        s.completion_code = code
    get_db().commit()
    prolific_url = None
    if s.prolific_pid:
        prolific_url = current_app.config["PROLIFIC_COMPLETE_URL"].format(code=code)
    return render_template("participant/debrief.html", session=s, code=code, prolific_url=prolific_url)


@bp.get("/study/<int:experiment_id>/time-up")
def time_up(experiment_id: int) -> Response | str:
    """The session's 30 minutes ran out before the trials were done."""
    s = participant(experiment_id)
    if s is None:
        return redirect(url_for("participant.landing", experiment_id=experiment_id))
    touch(get_db(), s, now(), grace_s=grace_s())
    get_db().commit()
    if s.status not in (SessionStatus.TIMED_OUT.value, SessionStatus.ABANDONED.value):
        return redirect(stage_url(s))
    return render_template("participant/time_up.html", session=s)


@bp.get("/study/<int:experiment_id>/screened-out")
def screened_out(experiment_id: int) -> Response | str:
    """The headphone check was not passed: the session has ended, with the study's screened-out code."""
    s = participant(experiment_id, lock=False)
    if s is None:
        return redirect(url_for("participant.landing", experiment_id=experiment_id))
    if s.withdrawn or s.status != SessionStatus.SCREENED_OUT.value:
        return redirect(stage_url(s))
    return _screened_out_page(study_or_404(experiment_id), s)


def _screened_out_page(experiment: Experiment, s: ParticipantSession) -> str:
    """The screened-out page: its own code (never the completion code) and the way back to Prolific."""
    code = StudySettings.of(experiment).screened_out_code
    prolific_url = current_app.config["PROLIFIC_COMPLETE_URL"].format(code=code) if code and s.prolific_pid else None
    return render_template("participant/screened_out.html", session=s, code=code, prolific_url=prolific_url)


@bp.get("/study/<int:experiment_id>/withdrawn")
def withdrawn(experiment_id: int) -> Response | str:
    """This participation has ended: withdrawn by the participant (stop and withdraw) or by the researchers."""
    s = participant(experiment_id, lock=False)
    if s is None:
        return redirect(url_for("participant.landing", experiment_id=experiment_id))
    if not s.withdrawn:
        return redirect(stage_url(s))
    return render_template("participant/withdrawn.html", session=s,
                           by_participant=s.withdrawn_reason == PARTICIPANT_WITHDRAWAL)


WITHDRAW_FROM = frozenset({"participant.headphone", "participant.instructions", "participant.task",
                           "participant.questionnaire", "participant.debrief"})
"""The stage pages that show the 'Stop and withdraw' link."""


def _withdraw_url(experiment_id: object) -> str | None:
    """The withdrawal page's URL on a stage page of a study (None elsewhere)."""
    if request.endpoint not in WITHDRAW_FROM or not isinstance(experiment_id, int):
        return None
    return url_for("participant.withdraw", experiment_id=experiment_id)


@bp.route("/study/<int:experiment_id>/withdraw", methods=["GET", "POST"])
def withdraw(experiment_id: int) -> Response | str:
    """Ask 'stop and withdraw?'; on confirmation (POST with CSRF) end the session as withdrawn and confirm it."""
    s = participant(experiment_id, lock=request.method == "POST")
    if s is None:
        if request.method == "POST":
            abort(409, "no study session in this browser: there is nothing to withdraw")
        return redirect(url_for("participant.landing", experiment_id=experiment_id))
    if s.withdrawn:
        return redirect(stage_url(s))
    form = ContinueForm()
    if form.validate_on_submit():
        withdraw_by_participant(get_db(), s, now())
        get_db().commit()
        return redirect(url_for("participant.withdrawn", experiment_id=experiment_id))
    if request.method == "POST":
        abort(400, "the withdrawal form was invalid")
    return render_template("participant/withdraw.html", session=s, form=form, back_url=stage_url(s))


def _at_stage(experiment_id: int, stage: Stage) -> tuple[ParticipantSession | None, Response | None]:
    """Load the session, apply the time limits, and redirect anyone not at `stage` to where they belong."""
    s = participant(experiment_id)  # locked: even a GET may record a time-out
    if s is None:
        if request.method == "POST":
            abort(409, "no study session in this browser: start from the study link")
        return None, redirect(url_for("participant.landing", experiment_id=experiment_id))
    touch(get_db(), s, now(), grace_s=grace_s())
    ended = s.withdrawn or s.status in (SessionStatus.TIMED_OUT.value, SessionStatus.ABANDONED.value,
                                        SessionStatus.SCREENED_OUT.value)
    if ended or s.stage != stage.value:
        get_db().commit()
        if request.method == "POST" and not ended:  # withdrawn or out of time: their page, not an error page
            abort(409, "this step is already done or not yet reached")
        return s, redirect(stage_url(s))
    return s, None


def _all_full(experiment: Experiment) -> bool:
    """Every version has reached its quota."""
    limits = Limits.of(experiment)
    filled = occupancy(get_db(), experiment.id, now(), limits.session_cap_s, limits.idle_release_s)
    return all(filled.get(v.id, 0) >= v.quota for v in experiment.versions)


def _clean_id(value: str | None) -> str | None:
    """Accept a Prolific-style id (letters, digits, - and _, up to 64), drop anything else."""
    if value and len(value) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value):
        return value
    return None


def _interval(value: str | None) -> int | None:
    """A headphone-check answer: 1, 2 or 3."""
    return int(value) if value in ("1", "2", "3") else None


def _volume(value: float | None) -> float | None:
    """A finite volume in [0, 1], or None."""
    return value if value is not None and math.isfinite(value) and 0.0 <= value <= 1.0 else None
