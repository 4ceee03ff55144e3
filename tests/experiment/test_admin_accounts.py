"""Admin accounts in the panel (issue 15): create, reset a password, deactivate; the CLI's own library functions.

A deactivated admin cannot log in and the logins it already had stop at their next request; nobody deactivates
themselves or the last active admin (409 with the reason); every form needs its CSRF token.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin_support import (  # noqa: F401 - fixtures
    PASSWORD, AdminClient, add_admin, admin, lite, lite_app, rows, scalar, study_template,
)
from experiment import accounts
from experiment.db import make_engine, session_factory
from experiment.models import AdminUser, AuditLog
from experiment_client import FakeClock

NEW_PASSWORD = "a different long passphrase"


def _id(url: str, username: str) -> int:
    return scalar(url, sa.select(AdminUser.id).where(AdminUser.username == username))


def _audit(url: str) -> list[tuple]:
    return rows(url, sa.select(AuditLog.action, AuditLog.target, AuditLog.admin_user_id).order_by(AuditLog.id))


def test_an_admin_creates_an_account_that_can_log_in(admin, lite, lite_app):
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "alice" in page and "(you)" in page
    response = admin.post("/admin/users", {"username": "Bob", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    assert AdminClient(lite_app).login("bob").status_code == 302
    assert ("create_user", "admin_user:bob", _id(lite.url, "alice")) in _audit(lite.url)


@pytest.mark.parametrize("form, reason", [
    ({"username": "alice", "password": PASSWORD, "confirm": PASSWORD}, "already exists"),
    ({"username": "bob", "password": "short", "confirm": "short"}, "at least 12 characters"),
    ({"username": "bob", "password": PASSWORD, "confirm": PASSWORD + "x"}, "the passwords differ"),
    ({"username": "bad name!", "password": PASSWORD, "confirm": PASSWORD}, "must be 1-64 letters"),
    ({"username": "", "password": PASSWORD, "confirm": PASSWORD}, "not created"),
])
def test_a_bad_new_account_is_refused_with_the_reason(admin, lite, form, reason):
    response = admin.post("/admin/users", form)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AdminUser)) == 1


def test_a_deactivated_admin_cannot_log_in_and_its_sessions_end(admin, lite, lite_app):
    bob_id = add_admin(lite.url, "bob")
    bob = AdminClient(lite_app)
    assert bob.login("bob").status_code == 302 and bob.get("/admin/").status_code == 200
    assert admin.post(f"/admin/users/{bob_id}/deactivate").status_code == 302
    page = bob.get("/admin/")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]
    assert bob.get("/admin/api/studies").status_code == 401
    assert AdminClient(lite_app).login("bob").status_code == 401
    assert "deactivated" in admin.get("/admin/users").get_data(as_text=True)
    assert ("deactivate_user", "admin_user:bob", _id(lite.url, "alice")) in _audit(lite.url)


def test_you_cannot_deactivate_yourself(admin, lite):
    response = admin.post(f"/admin/users/{_id(lite.url, 'alice')}/deactivate")
    assert response.status_code == 409 and "your own account" in response.get_data(as_text=True)
    assert admin.get("/admin/").status_code == 200


def test_the_last_active_admin_is_never_deactivated(lite):
    engine = make_engine(lite.url)
    try:
        with session_factory(engine)() as db:
            alice = db.get(AdminUser, _id(lite.url, "alice"))
            with pytest.raises(accounts.AccountConflict, match="last active admin"):
                accounts.deactivate(db, alice, by=None, now=FakeClock().now)
            assert accounts.is_active(alice)
    finally:
        engine.dispose()


def test_a_new_password_ends_old_logins_and_reactivates(admin, lite, lite_app):
    bob_id = add_admin(lite.url, "bob")
    bob = AdminClient(lite_app)
    assert bob.login("bob").status_code == 302
    new = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert admin.post(f"/admin/users/{bob_id}/password", new).status_code == 302
    assert bob.get("/admin/").status_code == 302  # the old login ended
    assert AdminClient(lite_app).login("bob", PASSWORD).status_code == 401
    assert AdminClient(lite_app).login("bob", NEW_PASSWORD).status_code == 302
    admin.post(f"/admin/users/{bob_id}/deactivate")
    assert admin.post(f"/admin/users/{bob_id}/password", {"password": PASSWORD, "confirm": PASSWORD}).status_code == 302
    assert AdminClient(lite_app).login("bob", PASSWORD).status_code == 302  # active again


def test_your_own_new_password_keeps_you_logged_in(admin, lite, lite_app):
    alice_id = _id(lite.url, "alice")
    response = admin.post(f"/admin/users/{alice_id}/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and admin.get("/admin/users").status_code == 200
    assert AdminClient(lite_app).login("alice", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("form", [{"password": "short", "confirm": "short"},
                                  {"password": NEW_PASSWORD, "confirm": "other"}, {}])
def test_a_bad_new_password_is_refused(admin, lite, form):
    response = admin.post(f"/admin/users/{_id(lite.url, 'alice')}/password", form)
    assert response.status_code == 400 and "was not changed" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/1/password", "/admin/users/1/deactivate",
                                  "/admin/studies/1/clone", "/admin/studies/1/archive",
                                  "/admin/studies/1/unarchive"])
def test_every_new_form_needs_its_csrf_token(admin, lite, path):
    data = {"username": "eve", "password": PASSWORD, "confirm": PASSWORD}
    assert admin.post(path, data, csrf=False).status_code == 400
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AdminUser)) == 1


@pytest.mark.parametrize("path", ["/admin/users/99/password", "/admin/users/99/deactivate",
                                  "/admin/users/99999999999/deactivate"])
def test_an_unknown_account_is_a_404(admin, path):
    response = admin.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 404 and "no admin account" in response.get_data(as_text=True)


def test_anonymous_callers_cannot_manage_accounts(lite_app, lite):
    anonymous = AdminClient(lite_app)
    assert anonymous.get("/admin/users").status_code == 302
    assert anonymous.post("/admin/users", {"username": "eve", "password": PASSWORD,
                                           "confirm": PASSWORD}).status_code in (302, 400)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(AdminUser)) == 1


def test_the_cli_deactivates_with_the_same_rules(lite, monkeypatch):
    from click.testing import CliRunner

    from experiment.cli import cli
    from experiment.errors import ExperimentError

    def run(*argv: str):
        return CliRunner().invoke(cli, ["admin", *argv, "--db", lite.url])

    last = run("deactivate-user", "alice")
    assert isinstance(last.exception, ExperimentError) and "last active admin" in str(last.exception)
    assert isinstance(run("deactivate-user", "ghost").exception, ExperimentError)
    add_admin(lite.url, "bob")
    assert run("deactivate-user", "BOB").exit_code == 0
    (hashed,) = rows(lite.url, sa.select(AdminUser.password_hash).where(AdminUser.username == "bob"))[0]
    assert hashed.startswith(accounts.DISABLED_PREFIX)
    monkeypatch.setenv("TUNEBACK_ADMIN_PASSWORD", NEW_PASSWORD)
    assert run("create-user", "bob", "--reset").exit_code == 0
    (hashed,) = rows(lite.url, sa.select(AdminUser.password_hash).where(AdminUser.username == "bob"))[0]
    assert not hashed.startswith(accounts.DISABLED_PREFIX)
