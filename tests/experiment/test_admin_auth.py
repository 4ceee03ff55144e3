"""Admin accounts: every route refuses anonymous callers, login and its throttling, cookies, CSRF, the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from admin_support import (  # noqa: F401 - fixtures
    PASSWORD, AdminClient, add_admin, admin, admin_app, fill, lite, lite_app, rows, scalar, study_template,
)
from experiment.models import AdminUser, AuditLog

ROUTES = [
    ("admin.logout", "POST"),
    ("admin.studies", "GET"),
    ("admin.new_study", "GET"),
    ("admin.new_study", "POST"),
    ("admin.study", "GET"),
    ("admin.open_study", "POST"),
    ("admin.close_study", "POST"),
    ("admin.quotas", "POST"),
    ("admin.texts", "POST"),
    ("admin.preview", "POST"),
    ("admin.delete_previews", "POST"),
    ("admin.progress", "GET"),
    ("admin.studies_api", "GET"),
    ("admin.participant", "GET"),
    ("admin.withdraw", "POST"),
    ("admin.erase", "POST"),
    ("admin.audit", "GET"),
    ("admin.export_table", "GET"),
    ("admin.export_all", "GET"),
    ("admin.report", "GET"),
    ("admin.report_results", "GET"),
    ("admin.export_previews", "GET"),
    ("admin.clone_study", "POST"),
    ("admin.archive_study", "POST"),
    ("admin.unarchive_study", "POST"),
    ("admin.users", "GET"),
    ("admin.create_user", "POST"),
    ("admin.reset_password", "POST"),
    ("admin.deactivate_user", "POST"),
]
"""Every admin route but the login page, with its method (test_route_list_is_complete keeps this honest)."""


def _url(app, endpoint: str, experiment_id: int, session_id: int) -> str:
    """A valid URL of the endpoint (real ids, so only the login check can refuse it)."""
    values = {"experiment_id": experiment_id, "session_id": session_id, "name": "trials", "fmt": "csv", "user_id": 1}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{k: v for k, v in values.items() if k in rule.arguments})


def test_route_list_is_complete(lite_app):
    actual = {(r.endpoint, m) for r in lite_app.url_map.iter_rules() if r.endpoint.startswith("admin.")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert actual - {("admin.login", "GET"), ("admin.login", "POST")} == set(ROUTES)


@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_anonymous_is_refused(lite_app, lite, clock, endpoint, method):
    session_id = fill(lite.url, lite.experiment_id, clock, {"one": {"trials": 2}})["one"]
    client = AdminClient(lite_app)
    url = _url(lite_app, endpoint, lite.experiment_id, session_id)
    before = scalar(lite.url, sa.select(sa.func.count()).select_from(AuditLog))
    if method == "GET":
        response = client.get(url)
    else:  # a valid CSRF token, so only the missing login refuses it
        response = client.post(url, {"version": "1", "reason": "x", "confirm": "x", "quota-1": "1", "quota-2": "1"})
    if url.startswith("/admin/api/"):
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login")
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AuditLog)) == before  # nothing happened


def test_login_page_is_public_and_has_csrf(lite_app):
    response = AdminClient(lite_app).get("/admin/login")
    assert response.status_code == 200 and 'name="csrf_token"' in response.get_data(as_text=True)


def test_post_without_csrf_is_refused_with_reason(lite_app, lite):
    client = AdminClient(lite_app)
    response = client.post("/admin/login", {"username": "alice", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert client.login().status_code == 302
    for path in (f"/admin/studies/{lite.experiment_id}/close", "/admin/logout"):
        response = client.post(path, csrf=False)
        assert response.status_code == 400 and "CSRF token is missing" in response.get_data(as_text=True)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "close_study")) == 0


def test_login_wrong_password_then_right_then_logout(app, study):
    add_admin(study.url)
    client = AdminClient(app)
    response = client.login(password="not the password")
    assert response.status_code == 401 and "wrong username or password" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    unknown = client.login(username="mallory")
    assert unknown.status_code == 401 and "wrong username or password" in unknown.get_data(as_text=True)
    assert client.login().status_code == 302
    assert client.get("/admin/").status_code == 200
    audit_page = client.get("/admin/audit").get_data(as_text=True)
    assert "anonymous (127.0.0.1)" in audit_page and "login:mallory" in audit_page
    assert client.post("/admin/logout").status_code == 302
    assert client.get("/admin/").status_code == 302
    log = rows(study.url, sa.select(AuditLog.action, AuditLog.target, AuditLog.detail).order_by(AuditLog.id))
    actions = [a for a, _, _ in log]
    assert actions == ["create_user", "login_failed", "login_failed", "login", "logout"]
    assert log[1][1] == "login:alice" and log[1][2]["ip"] == "127.0.0.1" and log[1][2]["known_user"] is True
    assert log[2][1] == "login:mallory" and log[2][2]["known_user"] is False
    assert "not the password" not in str(log)
    user = rows(study.url, sa.select(AdminUser.failed_logins, AdminUser.last_login_utc))[0]
    assert user[0] == 0 and user[1] is not None


def test_rate_limit_locks_out_address_and_username(app, study, clock):
    add_admin(study.url)
    client = AdminClient(app)
    for _ in range(5):
        assert client.login(password="guess").status_code == 401
    refused = client.login()  # even the right password is not looked at now
    assert refused.status_code == 429 and "too many failed logins" in refused.get_data(as_text=True)
    assert 800 < int(refused.headers["Retry-After"]) <= 901
    n_rows = scalar(study.url, sa.select(sa.func.count()).select_from(AuditLog))
    for _ in range(20):  # a flood while locked writes nothing
        assert client.login(password="guess").status_code == 429
    assert scalar(study.url, sa.select(sa.func.count()).select_from(AuditLog)) == n_rows
    elsewhere = AdminClient(app, REMOTE_ADDR="10.0.0.9")
    assert elsewhere.login().status_code == 302  # the limit is per address + username
    clock.advance(901)
    assert client.login().status_code == 302


def test_rate_limit_per_address_across_usernames(lite, clock, tmp_path):
    app = admin_app(lite.url, clock, tmp_path, ADMIN_LOGIN_MAX_FAILURES_PER_IP=3)
    client = AdminClient(app, REMOTE_ADDR="10.1.1.1")
    for name in ("bob", "carol", "dave"):
        assert client.login(username=name).status_code == 401
    assert client.login().status_code == 429


def test_account_locks_after_failures_from_many_addresses(lite, clock, tmp_path):
    app = admin_app(lite.url, clock, tmp_path, ADMIN_ACCOUNT_MAX_FAILURES=3)
    for k in range(3):
        assert AdminClient(app, REMOTE_ADDR=f"10.2.0.{k}").login(password="guess").status_code == 401
    response = AdminClient(app, REMOTE_ADDR="10.2.1.1").login()
    assert response.status_code == 429 and "account is locked" in response.get_data(as_text=True)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AuditLog)
                  .where(AuditLog.action == "account_locked")) == 1
    clock.advance(15 * 60 + 1)
    assert AdminClient(app, REMOTE_ADDR="10.2.1.1").login().status_code == 302


def test_session_cookie_flags(lite, clock, tmp_path, lite_app):
    cookie = AdminClient(lite_app).login().headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https_app = admin_app(lite.url, clock, tmp_path, PREFERRED_URL_SCHEME="https")
    assert "Secure" in AdminClient(https_app).get("/admin/login").headers["Set-Cookie"]
    client = AdminClient(lite_app)
    client.get("/admin/login", base_url="https://localhost")
    over_https = client.post("/admin/login", {"username": "alice", "password": PASSWORD}, base_url="https://localhost",
                             headers={"Referer": "https://localhost/admin/login"})  # Flask-WTF checks it on HTTPS
    assert over_https.status_code == 302 and "Secure" in over_https.headers["Set-Cookie"]


def test_login_returns_to_the_page_asked_for_but_never_off_site(lite_app, lite):
    client = AdminClient(lite_app)
    page = f"/admin/studies/{lite.experiment_id}"
    assert client.get(page).headers["Location"] == f"/admin/login?next={page}"
    client.get(f"/admin/login?next={page}")
    response = client.client.post(f"/admin/login?next={page}",
                                  data={"username": "alice", "password": PASSWORD, "csrf_token": client.csrf})
    assert response.headers["Location"] == page
    other = AdminClient(lite_app)
    other.get("/admin/login")
    response = other.client.post("/admin/login?next=//evil.example/admin/",
                                 data={"username": "alice", "password": PASSWORD, "csrf_token": other.csrf})
    assert response.headers["Location"] == "/admin/"


def test_new_password_or_age_ends_a_login(admin, lite, clock):
    from experiment.auth import create_user
    from experiment.db import make_engine, session_factory

    assert admin.get("/admin/").status_code == 200
    clock.advance(8 * 3600 + 1)
    assert admin.get("/admin/").status_code == 302
    assert admin.login().status_code == 302
    engine = make_engine(lite.url)
    with session_factory(engine)() as db:
        create_user(db, "alice", "another long password", now=clock.now, reset=True, method="pbkdf2:sha256:1000")
        db.commit()
    engine.dispose()
    assert admin.get("/admin/").status_code == 302


# ------------------------------------------------------------------------------------------------ the CLI


def test_create_user_cli_asks_twice_and_stores_scrypt(sqlite_url, monkeypatch):
    from experiment.cli import cli

    monkeypatch.delenv("TUNEBACK_ADMIN_PASSWORD", raising=False)
    secret = "a long enough password"
    result = CliRunner().invoke(cli, ["admin", "create-user", "Alice", "--db", sqlite_url],
                                input=f"{secret}\n{secret}\n")
    assert result.exit_code == 0, result.output
    assert "admin user 'alice' created" in result.output and secret not in result.output
    (stored,) = rows(sqlite_url, sa.select(AdminUser.username, AdminUser.password_hash))
    assert stored[0] == "alice" and stored[1].startswith("scrypt:") and secret not in stored[1]
    from experiment.auth import check_password

    assert check_password(stored[1], secret) and not check_password(stored[1], secret + "x")
    mismatch = CliRunner().invoke(cli, ["admin", "create-user", "bob", "--db", sqlite_url],
                                  input=f"{secret}\nsomething else\n{secret}\n{secret}\n")
    assert "do not match" in mismatch.output and mismatch.exit_code == 0


def test_create_user_cli_from_environment_and_errors(sqlite_url, monkeypatch):
    from experiment.cli import cli
    from experiment.errors import ExperimentError

    def run(*argv: str):
        return CliRunner().invoke(cli, ["admin", "create-user", *argv, "--db", sqlite_url])

    monkeypatch.setenv("TUNEBACK_ADMIN_PASSWORD", "scripted password 1")
    assert run("ci").exit_code == 0
    for argv, message in ((["ci"], "already exists"), (["ghost", "--reset"], "no admin user 'ghost'"),
                          (["bad name!"], "must be 1-64 letters")):
        result = run(*argv)  # `tuneback` prints an ExperimentError as one line and exits 2
        assert isinstance(result.exception, ExperimentError) and message in str(result.exception)
    monkeypatch.setenv("TUNEBACK_ADMIN_PASSWORD", "short")
    assert "at least 12 characters" in str(run("ci", "--reset").exception)
    monkeypatch.setenv("TUNEBACK_ADMIN_PASSWORD", "a brand new password")
    assert run("ci", "--reset").exit_code == 0
    actions = [a for (a,) in rows(sqlite_url, sa.select(AuditLog.action).order_by(AuditLog.id))]
    assert actions == ["create_user", "reset_password"]


def test_lockout_window_setting_comes_from_environment(monkeypatch, lite, clock, tmp_path):
    monkeypatch.setenv("TUNEBACK_ADMIN_LOGIN_MAX_FAILURES", "2")
    app = admin_app(lite.url, clock, tmp_path)
    assert app.config["ADMIN_LOGIN_MAX_FAILURES"] == 2
    client = AdminClient(app)
    assert [client.login(password="x").status_code for _ in range(3)] == [401, 401, 429]
    assert timedelta(seconds=app.config["ADMIN_LOGIN_WINDOW_S"]) == timedelta(minutes=15)
