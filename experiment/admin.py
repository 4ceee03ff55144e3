"""The experimenter's admin panel: login, studies (create, open, close, quotas, preview), live progress,
participants (withdraw, erase on request), the audit log, exports and the analysis report.

Every route but the login page refuses anonymous callers (`_require_login`, run before each view): pages
redirect to the login page, `/admin/api/…` answers 401 JSON. Every change is written to the audit log in
the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import stat
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template, request, session,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from experiment import auth, export
from experiment.db import begin_read
from experiment.errors import ExperimentError
from experiment.models import AdminUser, AuditLog, Event, Experiment, ParticipantSession, Presentation, Questionnaire
from experiment.params import whole_number
from experiment.progress import ERASED_PREFIX, participant_rows, progress_payload, study_summaries
from experiment.security import error_response
from experiment.status import ExperimentState, FoilPolicy, SessionStatus, Stage
from experiment.webdb import engine_of, get_db, now

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

PUBLIC_ENDPOINTS = frozenset({"admin.login"})
MAX_ID = 2**31 - 1
AUDIT_PAGE = 100
MAX_ZIP_MEMBERS = 5000
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
"""The analysis report is one self-contained page with inline CSS and data: images, and no script at all."""


def init_app(app) -> None:  # noqa: ANN001 - flask.Flask
    """Settings, the HTTPS-aware session cookie (experiment.auth)."""
    auth.init_app(app)


# ------------------------------------------------------------------------------------------------ plumbing


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, _values: dict | None) -> None:
    """Let a logged-in admin upload a clips zip bigger than the app-wide request limit.

    URL value preprocessors run before any before_request function, so the raised limit is in place before
    the CSRF check reads the form; anonymous posts keep the small app-wide limit.
    """
    if endpoint == "admin.new_study" and request.method == "POST" and session.get(auth.SESSION_KEY):
        request.max_content_length = int(current_app.config["ADMIN_UPLOAD_MAX_BYTES"])


@bp.before_request
def _require_login() -> Response | None:
    """Load the logged-in admin; refuse anyone else on every route but the login page."""
    if request.method in ("GET", "HEAD"):  # pages and polls read: no SQLite write lock while they compute
        begin_read(get_db())  # (a GET that also writes, like an export's audit line, commits first: _release)
    g.admin = auth.load_admin(get_db(), now())
    if request.endpoint in PUBLIC_ENDPOINTS or g.admin is not None:
        return None
    return auth.refuse_anonymous()


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    """Errors of the admin panel: JSON under /admin/api/, the error page elsewhere; always with the reason."""
    code = (exc.name or "error").lower().replace(" ", "_")
    status = exc.code or 500
    if request.path.startswith(auth.API_PREFIX):
        response = jsonify(error=code, message=exc.description or exc.name)
        response.status_code = status
    else:
        response = error_response(status, code, exc.description or exc.name)
    if status == 429 and exc.get_response().headers.get("Retry-After"):
        response.headers["Retry-After"] = exc.get_response().headers["Retry-After"]
    return response


@bp.app_template_global()
def admin_user() -> AdminUser | None:
    """The logged-in admin, for the templates."""
    return auth.current_admin()


@bp.app_template_filter("pct")
def _pct(value: float | None) -> str:
    """0.8333 → '83%'; None → '–'."""
    return "–" if value is None else f"{100 * value:.0f}%"


@bp.app_template_filter("duration")
def _duration(seconds: float | None) -> str:
    """754.2 → '12:34'."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


@bp.app_template_filter("utc")
def _utc(value: datetime | None) -> str:
    """A timestamp as '2026-11-25 14:03:07 UTC'."""
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _audit(db: Session, action: str, target: str | None, detail: dict[str, Any] | None = None) -> None:
    """Record what the logged-in admin just did (committed with the change)."""
    user = auth.current_admin()
    auth.record_audit(db, user.id if user else None, action, target, detail, now())


def _study(experiment_id: int) -> Experiment:
    """The study, or a 404 that says so."""
    experiment = get_db().get(Experiment, experiment_id) if 0 < experiment_id <= MAX_ID else None
    if experiment is None:
        abort(404, f"there is no study {experiment_id}")
    return experiment


def _release() -> None:
    """End the request's transaction before reading through another connection of the engine.

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE, see experiment.db), so a second
    connection would wait on this one; on PostgreSQL it keeps long reads from holding a transaction open.
    Loaded objects stay usable (the session does not expire them on commit).
    """
    get_db().commit()


def _participant(experiment: Experiment, session_id: int, *, lock: bool = False) -> ParticipantSession:
    """A real (non-preview) session of this study, or a 404 that says so; `lock` for writers (row lock)."""
    s = None
    if 0 < session_id <= MAX_ID:
        query = sa.select(ParticipantSession).where(ParticipantSession.id == session_id)
        if lock:  # every writer of a session holds its lock, as the participant's own requests do
            query = query.with_for_update().execution_options(populate_existing=True)
        s = get_db().scalar(query)
    if s is None or s.experiment_id != experiment.id or s.preview:
        abort(404, f"study {experiment.id} has no participant session {session_id}")
    return s


# ------------------------------------------------------------------------------------------------ forms


def _choices(pairs: list[tuple[str, str]]) -> list:
    """Choices in the form this WTForms version prefers (as experiment.forms does)."""
    try:
        from wtforms import SelectChoice
    except ImportError:  # pragma: no cover - older WTForms
        return pairs
    return [SelectChoice(v, label) for v, label in pairs]


class ActionForm(FlaskForm):
    """A button that posts nothing but its CSRF token (logout, open, close, previews)."""


class NewStudyForm(FlaskForm):
    """A study from an uploaded clips zip (manifest.json + audio) or from a manifest already on the server."""

    name = StringField("Name", validators=[Optional(), Length(max=200)])
    manifest_zip = FileField("Upload a zip with manifest.json and the audio it names")
    manifest_path = StringField("…or the path of a manifest.json on the server",
                                validators=[Optional(), Length(max=1024)])
    quota = IntegerField("Participants per version", default=8, validators=[NumberRange(min=0, max=100000)])
    seed = IntegerField("Seed of the design draw", default=0, validators=[NumberRange(min=0, max=2**31 - 1)])
    foil_policy = SelectField("Foil", default=FoilPolicy.DIFFERENT_SONG.value, choices=_choices([
        (FoilPolicy.DIFFERENT_SONG.value, "from a different song (the paper)"),
        (FoilPolicy.SAME_SONG.value, "from the same song at another time (harder)")]))
    completion_code = StringField("Completion code (blank: random)", validators=[
        Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9]+$", message="letters and digits only")])
    screened_out_code = StringField("Screened-out code for a failed headphone check (blank: random)", validators=[
        Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9]+$", message="letters and digits only")])
    headphone_retry = BooleanField("Allow one retry of the headphone check (new sounds) before screening out")
    require_listening = BooleanField("Require X, A and B to be played before each answer (checked on the server)")
    open_now = BooleanField("Open to participants at once (otherwise it starts as a draft)")
    require_prolific = BooleanField("Admit only arrivals with a Prolific id (PROLIFIC_PID)")
    prolific_study_id = StringField("Prolific study id (blank: any); arrivals with another STUDY_ID are refused",
                                    validators=[Optional(), Length(max=64), Regexp(r"^[A-Za-z0-9]+$",
                                                                                   message="letters and digits only")])
    idle_minutes = IntegerField("Release a place held by someone idle this many minutes (0: only at the time cap)",
                                default=10, validators=[NumberRange(min=0, max=24 * 60)])
    submit = SubmitField("Create the study")


class WithdrawForm(FlaskForm):
    """Withdraw a participant: data kept, flagged, excluded from analysis."""

    reason = TextAreaField("Reason (kept in the audit log)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Withdraw")


class EraseForm(FlaskForm):
    """Erase a participant's data on request: the listener id must be typed to confirm."""

    confirm = StringField("Type the listener id to confirm", validators=[DataRequired(), Length(max=64)])
    reason = TextAreaField("Reason (kept in the audit log)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Erase their data")


# ------------------------------------------------------------------------------------------------ login


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Log an experimenter in (throttled per address and username, see experiment.auth)."""
    form = auth.LoginForm()
    next_url = auth.safe_next(request.args.get("next"))
    if request.method == "GET" and g.admin is not None:
        return redirect(next_url or url_for("admin.studies"))
    if not form.validate_on_submit():
        if request.method == "POST":
            return render_template("admin/login.html", form=form, error="enter a username and a password"), 400
        return render_template("admin/login.html", form=form, error=None)
    db, when = get_db(), now()
    ip = request.remote_addr or "unknown"
    username = auth.normalise_username(form.username.data)[:64]
    refused = auth.refusal(db, ip, username, when)
    if refused is not None:
        db.rollback()
        response = Response(render_template("admin/login.html", form=form, error=refused.reason), status=429)
        response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    user = auth.authenticate(db, ip, username, form.password.data, when)
    db.commit()
    if user is None:
        return render_template("admin/login.html", form=form, error="wrong username or password"), 401
    auth.login_user(user, when)
    return redirect(next_url or url_for("admin.studies"))


@bp.post("/logout")
def logout() -> Response:
    """Log out (the whole session cookie is cleared)."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, "the logout form was invalid")
    _audit(get_db(), "logout", f"admin_user:{g.admin.username}")
    get_db().commit()
    auth.logout_user()
    return redirect(url_for("admin.login"))


# ------------------------------------------------------------------------------------------------ studies


@bp.get("/")
def studies() -> str:
    """List the studies with their state and how far recruitment has got."""
    return render_template("admin/studies.html", studies=study_summaries(get_db(), now()))


@bp.route("/studies/new", methods=["GET", "POST"])
def new_study() -> Response | str | tuple[str, int]:
    """Create a study from an uploaded zip (manifest.json + audio) or from a manifest path on the server."""
    form = NewStudyForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/new_study.html", form=form, error=None), status
    upload: FileStorage | None = form.manifest_zip.data if isinstance(form.manifest_zip.data, FileStorage) else None
    has_upload = upload is not None and bool(upload.filename)
    path_text = (form.manifest_path.data or "").strip()
    if has_upload == bool(path_text):
        return render_template("admin/new_study.html", form=form,
                               error="give either a zip to upload or a manifest path, not both and not neither"), 400
    unpacked: Path | None = None
    try:
        if has_upload:
            unpacked = _unpack_upload(upload)  # type: ignore[arg-type]
            manifest_file = _find_manifest(unpacked)
        else:
            manifest_file = _server_manifest(path_text)
        experiment_id = _create(form, manifest_file, unpacked is not None)
    except ExperimentError as exc:
        get_db().rollback()
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)
        return render_template("admin/new_study.html", form=form, error=str(exc)), 400
    flash(f"Study {experiment_id} created.", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment_id))


def _create(form: NewStudyForm, manifest_file: Path, uploaded: bool) -> int:
    """Parse the manifest, build both versions, audit, commit; return the new study's id."""
    from experiment.manifest import load_manifest
    from experiment.study import add_experiment

    manifest = load_manifest(manifest_file)
    db = get_db()
    experiment = add_experiment(db, manifest, quota=form.quota.data, seed=form.seed.data,
                                foil_policy=form.foil_policy.data, open_=bool(form.open_now.data),
                                name=(form.name.data or "").strip() or None,
                                completion_code=(form.completion_code.data or "").strip() or None, now=now(),
                                screened_out_code=(form.screened_out_code.data or "").strip() or None,
                                settings={"require_prolific": bool(form.require_prolific.data),
                                          "prolific_study_id": (form.prolific_study_id.data or "").strip() or None,
                                          "idle_release_s": 60 * int(form.idle_minutes.data or 0) or None,
                                          "headphone_retries": 1 if form.headphone_retry.data else 0,
                                          "require_listening": bool(form.require_listening.data)})
    _audit(db, "create_study", f"experiment:{experiment.id}",
           {"manifest": str(manifest.path), "sha256": manifest.sha256, "uploaded": uploaded,
            "quota": form.quota.data, "seed": form.seed.data, "foil_policy": experiment.foil_policy,
            "state": experiment.state})
    db.commit()
    return experiment.id


def _server_manifest(text: str) -> Path:
    """A manifest.json on the server (a folder means its manifest.json), or ExperimentError."""
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise ExperimentError(f"there is no manifest file at {path} on the server")
    return path


def _unpack_upload(upload: FileStorage) -> Path:
    """Unpack an uploaded zip into a new folder under instance/uploads/, refusing unsafe or oversized archives."""
    limit = int(current_app.config["ADMIN_UPLOAD_MAX_BYTES"])
    try:
        archive = zipfile.ZipFile(upload.stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExperimentError(f"the upload {upload.filename!r} is not a zip file ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _junk(m.filename)]
        if not members:
            raise ExperimentError("the zip is empty")
        if len(members) > MAX_ZIP_MEMBERS:
            raise ExperimentError(f"the zip holds {len(members)} files; at most {MAX_ZIP_MEMBERS} are accepted")
        total = sum(m.file_size for m in members)
        if total > limit:
            raise ExperimentError(f"the zip unpacks to {total} bytes, more than the {limit} allowed")
        for m in members:
            _check_member(m)
        root = Path(current_app.instance_path) / "uploads"
        root.mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix=f"{now():%Y%m%dT%H%M%S}-", dir=root))
        try:
            written = 0
            for m in members:
                target = dest.joinpath(*Path(m.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limit:  # the sizes in the zip's directory may lie
                            raise ExperimentError(f"the zip unpacks to more than the {limit} bytes allowed")
                        out.write(chunk)
        except (ExperimentError, zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            if isinstance(exc, ExperimentError):
                raise
            raise ExperimentError(f"the zip could not be unpacked: {exc}") from exc
    return dest


def _junk(name: str) -> bool:
    """Files archivers add that are not part of the clips (macOS resource forks, .DS_Store)."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] in {".DS_Store", "Thumbs.db"}


def _check_member(m: zipfile.ZipInfo) -> None:
    """Refuse absolute paths, '..', drive letters, backslashes and symbolic links inside the zip."""
    name = m.filename
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in parts or not parts:
        raise ExperimentError(f"the zip holds an unsafe path: {name!r}")
    if stat.S_ISLNK(m.external_attr >> 16):
        raise ExperimentError(f"the zip holds a symbolic link: {name!r}")


def _find_manifest(folder: Path) -> Path:
    """The one manifest.json in the unpacked zip (at its top or inside one folder)."""
    found = [p for p in (folder / "manifest.json", *folder.glob("*/manifest.json")) if p.is_file()]
    if len(found) != 1:
        where = ", ".join(str(p.relative_to(folder)) for p in found) or "none"
        raise ExperimentError(f"the zip must hold exactly one manifest.json at its top or in one folder (found: "
                              f"{where})")
    return found[0]


@bp.get("/studies/<int:experiment_id>")
def study(experiment_id: int) -> str:
    """One study: state, quotas, preview, live progress per version, participants, per-clip accuracy."""
    experiment = _study(experiment_id)
    data = progress_payload(get_db(), experiment, now())
    return render_template("admin/study.html", experiment=experiment, data=data, states=ExperimentState)


@bp.post("/studies/<int:experiment_id>/open")
def open_study(experiment_id: int) -> Response:
    """Open recruitment."""
    return _set_state(experiment_id, ExperimentState.OPEN)


@bp.post("/studies/<int:experiment_id>/close")
def close_study(experiment_id: int) -> Response:
    """Close recruitment (participants already in the study may finish)."""
    return _set_state(experiment_id, ExperimentState.CLOSED)


def _set_state(experiment_id: int, state: ExperimentState) -> Response:
    """Change a study's state, audited."""
    from experiment.study import set_state

    experiment = _study(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    before = experiment.state
    if before != state.value:
        set_state(get_db(), experiment, state.value, now())
        _audit(get_db(), f"{'open' if state is ExperimentState.OPEN else 'close'}_study",
               f"experiment:{experiment.id}", {"from": before, "to": state.value})
        get_db().commit()
        flash(f"Study {experiment.id} is now {state.value}.", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


@bp.post("/studies/<int:experiment_id>/quotas")
def quotas(experiment_id: int) -> Response:
    """Set each version's quota (participants per version)."""
    experiment = _study(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the quota form was invalid")
    changes = {}
    for v in experiment.versions:
        raw = (request.form.get(f"quota-{v.number}") or "").strip()
        quota = whole_number(raw, lo=0, hi=100000)
        if quota is None:
            abort(400, f"the quota of version {v.number} must be a whole number from 0 to 100000, got {raw[:20]!r}")
        if quota != v.quota:
            changes[str(v.number)] = {"from": v.quota, "to": quota}
            v.quota = quota
    if changes:
        _audit(get_db(), "set_quotas", f"experiment:{experiment.id}", changes)
        get_db().commit()
        flash("Quotas saved.", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


@bp.post("/studies/<int:experiment_id>/preview")
def preview(experiment_id: int) -> Response:
    """Start the participant flow as a preview session: any state, no quota, never counted or exported."""
    from experiment.current import remember, stage_url
    from experiment.sessions import Conflict, start_preview

    experiment = _study(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the preview form was invalid")
    number = whole_number(request.form.get("version"), lo=1, hi=1000)
    if number is None:
        abort(400, "choose a version to preview")
    db = get_db()
    try:
        s = start_preview(db, experiment.id, number, now=now(), secret=current_app.config["SECRET_KEY"])
    except Conflict as exc:
        db.rollback()
        abort(404, exc.message)
    _audit(db, "preview", f"experiment:{experiment.id}", {"version": number, "session_id": s.id})
    db.commit()
    session.pop(f"prolific:{experiment.id}", None)  # the preview is the experimenter's, under no Prolific id
    remember(experiment.id, s.token)
    return redirect(stage_url(s))


@bp.post("/studies/<int:experiment_id>/previews/delete")
def delete_previews(experiment_id: int) -> Response:
    """Delete the study's preview sessions and everything they logged."""
    experiment = _study(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    db = get_db()
    ids = list(db.scalars(sa.select(ParticipantSession.id).where(
        ParticipantSession.experiment_id == experiment.id, ParticipantSession.preview.is_(True))))
    if ids:
        _delete_session_data(db, ids)
        db.execute(sa.delete(ParticipantSession).where(ParticipantSession.id.in_(ids)))
        _audit(db, "delete_previews", f"experiment:{experiment.id}", {"sessions": len(ids)})
        db.commit()
        flash(f"Deleted {len(ids)} preview session(s).", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


@bp.get("/api/studies/<int:experiment_id>/progress")
def progress(experiment_id: int) -> Response:
    """Live progress of one study as JSON (polled by static/js/admin.js)."""
    experiment = _study(experiment_id)
    payload = progress_payload(get_db(), experiment, now())
    get_db().rollback()
    return jsonify(payload)


@bp.get("/api/studies")
def studies_api() -> Response:
    """The studies list as JSON."""
    rows = study_summaries(get_db(), now())
    get_db().rollback()
    return jsonify(studies=[{**r, "created_utc": r["created_utc"].isoformat()} for r in rows])


# ------------------------------------------------------------------------------------------------ participants


@bp.get("/studies/<int:experiment_id>/participants/<int:session_id>")
def participant(experiment_id: int, session_id: int) -> str:
    """One participant: their trials, questionnaire, and the withdraw / erase forms."""
    experiment = _study(experiment_id)
    s = _participant(experiment, session_id)
    return _participant_page(experiment, s, WithdrawForm(formdata=None), EraseForm(formdata=None))


def _participant_page(experiment: Experiment, s: ParticipantSession, withdraw_form: WithdrawForm,
                      erase_form: EraseForm, error: str | None = None) -> str:
    """Render the participant page."""
    db = get_db()
    row = next(r for r in participant_rows(db, experiment, now()) if r.session_id == s.id)
    trials = db.scalars(sa.select(Presentation).where(Presentation.session_id == s.id)
                        .order_by(Presentation.practice.desc(), Presentation.order_index)).all()
    questionnaire = db.scalar(sa.select(Questionnaire).where(Questionnaire.session_id == s.id))
    n_events = db.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.session_id == s.id))
    history = db.execute(sa.select(AuditLog, AdminUser.username).outerjoin(
        AdminUser, AdminUser.id == AuditLog.admin_user_id).where(AuditLog.target == f"session:{s.id}")
        .order_by(AuditLog.id)).all()
    return render_template("admin/participant.html", experiment=experiment, s=s, row=row, trials=trials,
                           questionnaire=questionnaire, n_events=n_events, history=history,
                           withdraw_form=withdraw_form, erase_form=erase_form, error=error)


@bp.post("/studies/<int:experiment_id>/participants/<int:session_id>/withdraw")
def withdraw(experiment_id: int, session_id: int) -> Response | tuple[str, int]:
    """Withdraw a participant: their data stay, flagged and excluded from analysis; audited."""
    experiment = _study(experiment_id)
    s = _participant(experiment, session_id, lock=True)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _participant_page(experiment, s, form, EraseForm(formdata=None), "the withdrawal form was invalid"), 400
    if s.withdrawn:
        flash(f"{s.listener} was already withdrawn.", "notice")
        return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))
    db, when = get_db(), now()
    reason = (form.reason.data or "").strip() or None
    s.withdrawn, s.withdrawn_utc, s.withdrawn_reason = True, when, reason
    _audit(db, "withdraw", f"session:{s.id}", {"experiment_id": experiment.id, "listener": s.listener,
                                               "reason": reason, "status": s.status})
    db.commit()
    flash(f"{s.listener} withdrawn: data kept, excluded from analysis.", "ok")
    return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))


@bp.post("/studies/<int:experiment_id>/participants/<int:session_id>/erase")
def erase(experiment_id: int, session_id: int) -> Response | tuple[str, int]:
    """Erase a participant's data on request: trials, events, questionnaire and personal ids; audited."""
    experiment = _study(experiment_id)
    s = _participant(experiment, session_id, lock=True)
    form = EraseForm()
    if not form.validate_on_submit():
        return _participant_page(experiment, s, WithdrawForm(formdata=None), form,
                                 "the erase form was invalid"), 400
    if (form.confirm.data or "").strip() != s.listener:
        return _participant_page(experiment, s, WithdrawForm(formdata=None), form,
                                 f"type the listener id {s.listener} exactly to confirm the erasure"), 400
    db, when = get_db(), now()
    reason = (form.reason.data or "").strip() or None
    counts = _delete_session_data(db, [s.id])
    _scrub(s, when, reason)
    _audit(db, "erase", f"session:{s.id}", {"experiment_id": experiment.id, "listener": s.listener,
                                            "reason": reason, "deleted": counts})
    db.commit()
    flash(f"The data of {s.listener} were erased; the audit log keeps that it happened.", "ok")
    return redirect(url_for("admin.participant", experiment_id=experiment.id, session_id=s.id))


def _delete_session_data(db: Session, session_ids: list[int]) -> dict[str, int]:
    """Delete the events, questionnaires and presentations of these sessions; return how many of each."""
    counts = {}
    for name, model in (("events", Event), ("questionnaires", Questionnaire), ("presentations", Presentation)):
        result = db.execute(sa.delete(model).where(model.session_id.in_(session_ids)))
        counts[name] = int(result.rowcount or 0)
    return counts


def _scrub(s: ParticipantSession, when: datetime, reason: str | None) -> None:
    """Keep only an anonymous stub of an erased session: withdrawn, no ids, answers, checks or codes.

    The token is replaced so the participant's old cookie no longer reaches the (now empty) session.
    """
    s.withdrawn = True
    s.withdrawn_utc = s.withdrawn_utc or when
    s.withdrawn_reason = f"{ERASED_PREFIX} {reason or ''}".strip()
    s.prolific_pid = s.prolific_study_id = s.prolific_session_id = None
    s.user_agent = None
    s.headphone_score = s.headphone_trials = None
    s.headphone_passed = None
    s.volume = None
    s.completion_code = None
    s.token = secrets.token_urlsafe(32)
    if s.status == SessionStatus.ACTIVE.value:
        s.status = SessionStatus.ABANDONED.value
        s.finished_utc = s.finished_utc or when
    s.stage = Stage.DONE.value


# ------------------------------------------------------------------------------------------------ audit log


@bp.get("/audit")
def audit() -> str:
    """The audit log, newest first: who did what to which study or participant, and when."""
    page_no = whole_number(request.args.get("page"), lo=1, hi=10**6 - 1) or 1
    db = get_db()
    total = db.scalar(sa.select(sa.func.count()).select_from(AuditLog)) or 0
    rows = db.execute(sa.select(AuditLog, AdminUser.username).outerjoin(
        AdminUser, AdminUser.id == AuditLog.admin_user_id).order_by(AuditLog.id.desc())
        .limit(AUDIT_PAGE).offset((page_no - 1) * AUDIT_PAGE)).all()
    pages = max(1, math.ceil(total / AUDIT_PAGE))
    return render_template("admin/audit.html", rows=rows, page=page_no, pages=pages, total=total)


# ------------------------------------------------------------------------------------------------ exports


@bp.get("/studies/<int:experiment_id>/export/<any(trials,events,questionnaire,dictionary):name>."
        "<any(csv,parquet):fmt>")
def export_table(experiment_id: int, name: str, fmt: str) -> Response:
    """Download one table of a study as CSV or Parquet (the dictionary is always CSV)."""
    experiment = _study(experiment_id)
    _release()
    frame = export.table(engine_of(current_app), experiment.id, name)
    fmt = "csv" if name == "dictionary" else fmt
    data = export.to_bytes(frame, fmt)
    _audit(get_db(), "export", f"experiment:{experiment.id}", {"table": name, "format": fmt, "rows": len(frame)})
    get_db().commit()
    return _download(data, export.filename(experiment.id, name, fmt), export.MIMETYPES[fmt])


@bp.get("/studies/<int:experiment_id>/export.<any(csv,parquet):fmt>.zip")
def export_all(experiment_id: int, fmt: str) -> Response:
    """Download every table, the data dictionary and export.json in one zip."""
    experiment = _study(experiment_id)
    _release()
    files = export.export_bundle(engine_of(current_app), experiment.id, fmt, now=now())
    folder = f"study-{experiment.id}-export-{fmt}"
    _audit(get_db(), "export", f"experiment:{experiment.id}", {"table": "all", "format": fmt})
    get_db().commit()
    return _download(export.zip_bundle(files, folder), f"{folder}.zip", export.MIMETYPES["zip"])


def _download(data: bytes, name: str, mimetype: str) -> Response:
    """A file download response."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ------------------------------------------------------------------------------------------------ analysis report


@bp.get("/studies/<int:experiment_id>/report")
def report(experiment_id: int) -> Response | tuple[str, int] | str:
    """The study's analysis report (analysis.report), rerun only when the data changed since the last one."""
    experiment = _study(experiment_id)
    _release()
    try:
        folder = _report_folder(experiment.id)
    except ExperimentError as exc:
        return render_template("admin/report_error.html", experiment=experiment, message=str(exc)), 200
    response = Response((folder / "report.html").read_bytes(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@bp.get("/studies/<int:experiment_id>/report/results.json")
def report_results(experiment_id: int) -> Response:
    """Every figure of the last report, as JSON (404 until the report has been run)."""
    experiment = _study(experiment_id)
    path = _report_root(experiment.id) / "current" / "results.json"
    if not path.is_file():
        abort(404, f"study {experiment.id} has no analysis results yet: open its report first")
    return _download(path.read_bytes(), f"study-{experiment.id}-results.json", "application/json")


def _report_root(experiment_id: int) -> Path:
    """instance/reports/study-<id>/."""
    return Path(current_app.instance_path) / "reports" / f"study-{experiment_id}"


def _report_folder(experiment_id: int) -> Path:
    """The folder of an up-to-date report for this study, running the analysis if the data changed.

    Raises ExperimentError with the analysis package's message (e.g. no answered trials yet).
    """
    from experiment.tidy import trial_table

    table = trial_table(engine_of(current_app), experiment_id)
    reps = int(current_app.config["ADMIN_REPORT_POWER_REPS"])
    fingerprint = hashlib.sha256(table.to_csv(index=False).encode() + f"|reps={reps}".encode()).hexdigest()
    root = _report_root(experiment_id)
    current = root / "current"
    if (current / "fingerprint").is_file() and (current / "fingerprint").read_text() == fingerprint \
            and (current / "report.html").is_file():
        return current
    try:
        from analysis.errors import AnalysisError
        from analysis.report import analyze
    except ImportError as exc:
        raise ExperimentError(f"the analysis package is not available on this server ({exc})") from exc
    if table.empty:
        raise ExperimentError("no trials have been shown yet: the report appears once participants have answered")
    table.attrs["source"] = {"kind": "database", "experiment_id": int(experiment_id), "via": "admin panel"}
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        analyze(table, out_dir=work, power_reps=reps)
        (work / "fingerprint").write_text(fingerprint)
    except AnalysisError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ExperimentError(str(exc)) from exc
    except Exception as exc:  # a bug in the analysis must not take the panel down: log it, say so
        shutil.rmtree(work, ignore_errors=True)
        log.exception("analysis of study %s failed", experiment_id)
        raise ExperimentError(f"the analysis failed on these data ({exc.__class__.__name__}: {exc}); the server "
                              "log has the details") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _replace_dir(work, current)
    _audit(get_db(), "run_report", f"experiment:{experiment_id}", {"rows": int(len(table)), "power_reps": reps})
    get_db().commit()
    return current


def _replace_dir(new: Path, current: Path) -> None:
    """Put `new` in place of `current` (two concurrent runs: the last one wins, neither sees half a folder)."""
    old = current.with_name(f"old-{secrets.token_hex(4)}")
    try:
        os.replace(current, old)
    except OSError:  # no report yet (or another request just moved it)
        old = None  # type: ignore[assignment]
    try:
        os.replace(new, current)
    except OSError:  # another request put its report there in between: keep theirs
        shutil.rmtree(new, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _json_detail(detail: Any) -> str:
    """Audit details as compact JSON for the audit page."""
    return "" if detail is None else json.dumps(detail, sort_keys=True, ensure_ascii=False)


bp.add_app_template_filter(_json_detail, "json_detail")
