"""The admin blueprint and what every admin route shares: login required, error pages, template filters,
the audit helper and the 404-ing getters of a study and a participant session.

Every route but the login page refuses anonymous callers (`_require_login`, run before each view): pages
redirect to the login page, `/admin/api/…` answers 401 JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, jsonify, request, session
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from experiment import auth
from experiment.db import begin_read
from experiment.models import AdminUser, Experiment, ParticipantSession
from experiment.security import error_response
from experiment.webdb import get_db, now

bp = Blueprint("admin", __name__, url_prefix="/admin")

PUBLIC_ENDPOINTS = frozenset({"admin.login"})
MAX_ID = 2**31 - 1


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
        begin_read(get_db())  # (a GET that also writes, like an export's audit line, commits first: release_transaction)
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


def audit_change(db: Session, action: str, target: str | None, detail: dict[str, Any] | None = None) -> None:
    """Record what the logged-in admin just did (committed with the change)."""
    user = auth.current_admin()
    auth.record_audit(db, user.id if user else None, action, target, detail, now())


def study_or_404(experiment_id: int) -> Experiment:
    """The study, or a 404 that says so."""
    experiment = get_db().get(Experiment, experiment_id) if 0 < experiment_id <= MAX_ID else None
    if experiment is None:
        abort(404, f"there is no study {experiment_id}")
    return experiment


def release_transaction() -> None:
    """End the request's transaction before reading through another connection of the engine.

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE, see experiment.db), so a second
    connection would wait on this one; on PostgreSQL it keeps long reads from holding a transaction open.
    Loaded objects stay usable (the session does not expire them on commit).
    """
    get_db().commit()


def participant_or_404(experiment: Experiment, session_id: int, *, lock: bool = False) -> ParticipantSession:
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


def download(data: bytes, name: str, mimetype: str) -> Response:
    """A file download response."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _json_detail(detail: Any) -> str:
    """Audit details as compact JSON for the audit page."""
    return "" if detail is None else json.dumps(detail, sort_keys=True, ensure_ascii=False)


bp.add_app_template_filter(_json_detail, "json_detail")
