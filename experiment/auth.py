"""Experimenter accounts: salted password hashes, login throttling, the admin's signed session, the audit log.

Throttling lives in the database, so every gunicorn worker sees the same counts:

- per (IP, username): after ``ADMIN_LOGIN_MAX_FAILURES`` failed logins within ``ADMIN_LOGIN_WINDOW_S`` that
  pair is refused (HTTP 429, ``Retry-After``) until the oldest of those failures leaves the window;
- per IP (any username): the same with ``ADMIN_LOGIN_MAX_FAILURES_PER_IP``, against username spraying;
- per account: after ``ADMIN_ACCOUNT_MAX_FAILURES`` consecutive failures from anywhere the account is locked
  for ``ADMIN_ACCOUNT_LOCK_S`` (``admin_user.failed_logins`` / ``locked_until``).

Each failed login is an ``audit_log`` row (action ``login_failed``, target ``login:<username>``, the IP in
``detail``); the per-IP counts are read from there, so no extra table is needed. While a pair is refused
nothing more is written, so a flood of guesses cannot grow the log without bound. Behind a reverse proxy
the client IP is only right if the app is wrapped in ``werkzeug.middleware.proxy_fix.ProxyFix``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_request_context, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from experiment.errors import ExperimentError
from experiment.models import AdminUser, AuditLog

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "admin"
"""Key of the admin login in Flask's signed session cookie (beside the participant's tokens)."""

API_PREFIX = "/admin/api/"
"""Admin JSON endpoints: anonymous callers get 401 JSON here, a redirect to the login page elsewhere."""

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
DEFAULT_METHOD = "scrypt"
"""werkzeug's default: scrypt (N=2^15, r=8, p=1) with a 16-byte random salt."""

SETTINGS: dict[str, Any] = {
    "ADMIN_LOGIN_WINDOW_S": 15 * 60,
    "ADMIN_LOGIN_MAX_FAILURES": 5,
    "ADMIN_LOGIN_MAX_FAILURES_PER_IP": 30,
    "ADMIN_ACCOUNT_MAX_FAILURES": 20,
    "ADMIN_ACCOUNT_LOCK_S": 15 * 60,
    "ADMIN_SESSION_MAX_AGE_S": 8 * 3600,
    "ADMIN_PASSWORD_MIN_LENGTH": 12,
    "ADMIN_UPLOAD_MAX_BYTES": 512 * 1024 * 1024,
    "ADMIN_REPORT_POWER_REPS": 1000,
}
"""The admin panel's settings: defaults, overridden by `TUNEBACK_<NAME>` in the environment, then by the app's
config mapping (as the rest of the app's settings are)."""


def init_app(app: Flask) -> None:
    """Fill in the admin settings and make the session cookie Secure whenever the app is reached over HTTPS."""
    for name, default in SETTINGS.items():
        if name not in app.config:
            raw = os.environ.get(f"TUNEBACK_{name}")
            app.config[name] = type(default)(raw) if raw is not None else default
    if str(app.config.get("PREFERRED_URL_SCHEME", "http")).lower() == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = SecureWhenHttpsSessionInterface()


class SecureWhenHttpsSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the Secure flag also set on any request that came in over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """SESSION_COOKIE_SECURE, or the request itself is HTTPS (behind a proxy: with ProxyFix)."""
        return bool(super().get_cookie_secure(app)) or (has_request_context() and request.is_secure)


# ------------------------------------------------------------------------------------------------ passwords


DISABLED_PREFIX = "!"
"""Prefixed to the password hash of a deactivated account (experiment.accounts): nothing matches it."""


def hash_password(password: str, method: str | None = None) -> str:
    """A salted hash of `password` (scrypt unless `method` names another werkzeug method, e.g. for tests)."""
    return generate_password_hash(password, method=method or DEFAULT_METHOD)


def check_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (constant-time compare inside werkzeug)."""
    try:
        return check_password_hash(password_hash, password)
    except (ValueError, TypeError):  # an unreadable stored hash never matches
        return False


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so their answer takes as long as a real check."""
    return hash_password(os.urandom(16).hex())


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case, without surrounding space."""
    return (username or "").strip().lower()


def check_new_password(password: str, min_length: int = SETTINGS["ADMIN_PASSWORD_MIN_LENGTH"]) -> None:
    """Refuse a password that is too short or too long (ExperimentError says which)."""
    if len(password) < min_length:
        raise ExperimentError(f"the password must have at least {min_length} characters (got {len(password)})")
    if len(password) > 1024:
        raise ExperimentError("the password must have at most 1024 characters")


def create_user(db: Session, username: str, password: str, *, now: datetime, reset: bool = False,
                method: str | None = None, min_length: int = SETTINGS["ADMIN_PASSWORD_MIN_LENGTH"],
                by: int | None = None, via: str = "cli") -> AdminUser:
    """Add (not commit) an experimenter account, or with `reset` set a new password and lift any lock-out.

    `by` is the admin doing it from the panel (None from the CLI), recorded with `via` in the audit log.
    """
    name = normalise_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise ExperimentError(f"username {username!r} must be 1-64 letters, digits or . _ @ -, starting with a "
                              "letter or digit")
    check_new_password(password, min_length)
    user = db.scalar(sa.select(AdminUser).where(AdminUser.username == name))
    if user is not None and not reset:
        raise ExperimentError(f"admin user {name!r} already exists (use --reset to set a new password)")
    if user is None:
        if reset:
            raise ExperimentError(f"there is no admin user {name!r} to reset")
        user = AdminUser(username=name, created_utc=now)
        db.add(user)
    user.password_hash = hash_password(password, method)
    user.failed_logins = 0
    user.locked_until = None
    db.flush()
    record_audit(db, by, "reset_password" if reset else "create_user", f"admin_user:{name}", {"via": via}, now)
    return user


# ------------------------------------------------------------------------------------------------ the audit log


def record_audit(db: Session, admin_user_id: int | None, action: str, target: str | None,
                 detail: dict[str, Any] | None, now: datetime) -> AuditLog:
    """Append one audit row (the caller commits, in the same transaction as the change it records)."""
    row = AuditLog(admin_user_id=admin_user_id, action=action, target=(target or "")[:255] or None,
                   detail=detail, created_utc=now)
    db.add(row)
    return row


# ------------------------------------------------------------------------------------------------ throttling


@dataclass(frozen=True)
class Refusal:
    """Why a login is refused before its password is even looked at, and for how long."""

    reason: str
    retry_after_s: int


def _limits() -> tuple[timedelta, int, int, int, timedelta]:
    """The throttling settings of the running app."""
    c = current_app.config
    return (timedelta(seconds=int(c["ADMIN_LOGIN_WINDOW_S"])), int(c["ADMIN_LOGIN_MAX_FAILURES"]),
            int(c["ADMIN_LOGIN_MAX_FAILURES_PER_IP"]), int(c["ADMIN_ACCOUNT_MAX_FAILURES"]),
            timedelta(seconds=int(c["ADMIN_ACCOUNT_LOCK_S"])))


def _failures(db: Session, since: datetime, ip: str, username: str | None, limit: int) -> list[datetime]:
    """Times of the newest `limit` failed logins since `since` from `ip` (for `username`, if given)."""
    query = (sa.select(AuditLog.created_utc)
             .where(AuditLog.action == "login_failed", AuditLog.created_utc > since,
                    AuditLog.detail["ip"].as_string() == ip)
             .order_by(AuditLog.created_utc.desc()).limit(limit))
    if username is not None:
        query = query.where(AuditLog.target == f"login:{username}")
    return list(db.scalars(query))


def refusal(db: Session, ip: str, username: str, now: datetime) -> Refusal | None:
    """Whether this IP may try this username now; None means go ahead and check the password."""
    window, per_pair, per_ip, _, _ = _limits()
    for who, limit in ((username, per_pair), (None, per_ip)):
        times = _failures(db, now - window, ip, who, limit)
        if limit > 0 and len(times) >= limit:
            retry = int((times[-1] + window - now).total_seconds()) + 1
            scope = "this username from your address" if who is not None else "your address"
            return Refusal(f"too many failed logins for {scope}; try again in {_minutes(retry)}", max(retry, 1))
    user = db.scalar(sa.select(AdminUser).where(AdminUser.username == username))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        retry = int((user.locked_until - now).total_seconds()) + 1
        return Refusal(f"this account is locked after repeated failed logins; try again in {_minutes(retry)}",
                       retry)
    return None


def authenticate(db: Session, ip: str, username: str, password: str, now: datetime) -> AdminUser | None:
    """Check a login (after `refusal`); record the failure or the success; the caller commits."""
    name = normalise_username(username)[:64]
    user = db.scalar(sa.select(AdminUser).where(AdminUser.username == name))
    if user is None:
        check_password(_dummy_hash(), password)
        ok = False
    else:
        ok = check_password(user.password_hash, password)
    if ok:
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_utc = now
        record_audit(db, user.id, "login", f"admin_user:{user.username}", {"ip": ip}, now)
        return user
    # no admin_user_id: whoever failed is not (yet) that user; the username tried is the target
    record_audit(db, None, "login_failed", f"login:{name}", {"ip": ip, "known_user": user is not None}, now)
    if user is not None:
        _, _, _, account_max, lock = _limits()
        db.execute(sa.update(AdminUser).where(AdminUser.id == user.id)
                   .values(failed_logins=AdminUser.failed_logins + 1))
        db.refresh(user)
        if account_max > 0 and user.failed_logins >= account_max:
            user.locked_until = now + lock
            user.failed_logins = 0
            record_audit(db, None, "account_locked", f"admin_user:{user.username}",
                         {"ip": ip, "until": user.locked_until.isoformat()}, now)
    return None


def _minutes(seconds: int) -> str:
    """'1 minute', '15 minutes'."""
    n = max(1, -(-seconds // 60))
    return f"{n} minute{'s' if n != 1 else ''}"


# ------------------------------------------------------------------------------------------------ the session


def _fingerprint(user: AdminUser) -> str:
    """Binds a login to the account's current password hash: a new password ends every old login."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"admin|{user.id}|{user.password_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def login_user(user: AdminUser, now: datetime) -> None:
    """Start the admin's session: a fresh cookie (no fixation), holding the user id, fingerprint and time."""
    session.clear()
    session[SESSION_KEY] = {"id": user.id, "fp": _fingerprint(user), "at": now.timestamp()}
    session.permanent = True


def logout_user() -> None:
    """End the admin's session (the whole cookie, with any preview tokens)."""
    session.clear()


def load_admin(db: Session, now: datetime) -> AdminUser | None:
    """The logged-in admin of this request, or None (unknown, expired, or password changed since)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    max_age = float(current_app.config["ADMIN_SESSION_MAX_AGE_S"])
    at = data.get("at")
    if not isinstance(at, int | float) or not 0 <= now.timestamp() - at <= max_age:
        return None
    user = db.get(AdminUser, data["id"])
    if user is None or user.password_hash.startswith(DISABLED_PREFIX):  # deactivated: every login ends
        return None
    if not hmac.compare_digest(str(data.get("fp", "")), _fingerprint(user)):
        return None
    return user


def current_admin() -> AdminUser | None:
    """The admin loaded for this request (by the admin blueprint's before_request)."""
    return g.get("admin")


def refuse_anonymous() -> Response:
    """401 JSON for the admin API, a redirect to the login page (coming back here afterwards) for pages."""
    if request.path.startswith(API_PREFIX):
        response = jsonify(error="unauthorized", message="log in to the admin panel first (/admin/login)")
        response.status_code = 401
        return response
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("admin.login", next=target.rstrip("?") if target else None))


def login_required(view: F) -> F:
    """Refuse anonymous callers (the admin blueprint also does this for every route it has)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_admin() is None:
            return refuse_anonymous()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def safe_next(target: str | None) -> str | None:
    """A post-login destination only if it is a path inside the admin panel (no open redirect)."""
    if target and target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


class LoginForm(FlaskForm):
    """Username and password (with the form's CSRF token)."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField("Log in")
