"""CSRF, security headers, and errors: JSON 4xx with a reason for the API, a plain page for people."""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    """Turn on CSRF everywhere (forms and the JSON API's X-CSRFToken header), headers and error pages."""
    app.before_request(_pages_take_forms)
    CSRFProtect(app)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(DataError, _bad_value)  # more specific than DBAPIError: the value, not the database
    app.register_error_handler(Exception, _unexpected)


def _pages_take_forms() -> None:
    """Pages take HTML forms, only the JSON API takes JSON: a JSON array or string handed to a form is a 415.

    (Flask-WTF would feed any JSON body to the form as its data; a list or a number there is a 500.)
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return
    if request.is_json:
        abort(415, "this page takes a form (application/x-www-form-urlencoded or multipart/form-data), not JSON")


def wants_json() -> bool:
    """API and audio paths answer in JSON; pages in HTML."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str) -> Response:
    """One error shape: {"error": code, "message": reason} or the error page."""
    if wants_json():
        response = jsonify(error=code, message=message)
    else:
        response = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    response.status_code = status
    return response


def _headers(response: Response) -> Response:
    """Security headers on every response; nothing the server sends may be cached or framed."""
    response.headers.setdefault("Content-Security-Policy", CSP)  # a view may set a stricter or special one
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    for header in [h for h in response.headers.keys() if h.lower().startswith("x-ratelimit-")]:
        del response.headers[header]  # counters would make two clips' responses differ; a 429 keeps Retry-After
    if response.status_code < 400:
        response.headers.pop("Retry-After", None)  # the limiter's countdown, ticking between two clips' fetches
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_error(exc: CSRFError) -> Response:
    """A missing or wrong CSRF token."""
    return error_response(400, "csrf", f"CSRF check failed: {exc.description}")


def _http_error(exc: HTTPException) -> Response:
    """Any 4xx/5xx raised by routing or abort(), in the caller's format."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(exc.code or 500, code, exc.description or exc.name)
    for header in ("Allow", "Retry-After", "Content-Range"):
        if exc.get_response().headers.get(header):
            response.headers[header] = exc.get_response().headers[header]
    return response


def _database_error(exc: Exception) -> Response:
    """The database is unreachable or restarting: ask the client to retry (its answer id makes that safe)."""
    log.warning("database error: %s", exc.__class__.__name__, exc_info=exc)
    response = error_response(503, "database_unavailable", "the database is briefly unavailable; try again")
    response.headers["Retry-After"] = "1"
    return response


def _bad_value(exc: Exception) -> Response:
    """PostgreSQL refused a value the request carried (a NUL character in text, say): the request's fault, not a
    reason to tell the client to retry as `_database_error` would."""
    log.info("the database refused a value: %s", exc.__class__.__name__)
    return error_response(400, "bad_value", "the request holds a value that cannot be stored (e.g. a NUL character)")


def _unexpected(exc: Exception) -> Response:
    """A bug: log it with its traceback, tell the client nothing about the internals."""
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on our side; please try again")
