"""Experimenter accounts in the panel: list, create, reset a password, deactivate (as the CLI, same functions)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, g, redirect, render_template, url_for

from experiment import accounts, auth
from experiment.admin.core import MAX_ID, bp
from experiment.admin.forms import ActionForm, NewAdminForm, PasswordForm
from experiment.errors import ExperimentError
from experiment.models import AdminUser
from experiment.webdb import get_db, now


@bp.get("/users")
def users() -> str:
    """Every experimenter account, active or not, with the forms that change them."""
    return _page(NewAdminForm(formdata=None))


def _page(form: NewAdminForm, error: str | None = None) -> str:
    """Render the accounts page."""
    rows = get_db().scalars(sa.select(AdminUser).order_by(AdminUser.username)).all()
    return render_template("admin/users.html", users=rows, form=form, password_form=PasswordForm(formdata=None),
                           is_active=accounts.is_active, error=error, when=now())


def _min_length() -> int:
    """The configured shortest password."""
    return int(current_app.config["ADMIN_PASSWORD_MIN_LENGTH"])


def _user(user_id: int, *, lock: bool = False) -> AdminUser:
    """The account, or a 404 that says so."""
    user = None
    if 0 < user_id <= MAX_ID:
        query = sa.select(AdminUser).where(AdminUser.id == user_id)
        user = get_db().scalar(query.with_for_update() if lock else query)
    if user is None:
        abort(404, f"there is no admin account {user_id}")
    return user


@bp.post("/users")
def create_user() -> Response | tuple[str, int]:
    """Create an account (the same rules as `tuneback experiment admin create-user`); audited."""
    form = NewAdminForm()
    if not form.validate_on_submit():
        reason = "; ".join(e for errors in form.errors.values() for e in errors) or "the form was invalid"
        return _page(form, f"the account was not created: {reason}"), 400
    db = get_db()
    try:
        user = auth.create_user(db, form.username.data, form.password.data, now=now(), min_length=_min_length(),
                                by=g.admin.id, via="panel")
    except ExperimentError as exc:
        db.rollback()
        return _page(form, str(exc).replace(" (use --reset to set a new password)", "")), 400
    db.commit()
    flash(f"Admin account {user.username!r} created.", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> Response | tuple[str, int]:
    """Set a new password for an account: its old logins end, a lock-out is lifted, a deactivated one is back."""
    user = _user(user_id, lock=True)
    form = PasswordForm()
    if not form.validate_on_submit():
        reason = "; ".join(e for errors in form.errors.values() for e in errors) or "the form was invalid"
        return _page(NewAdminForm(formdata=None), f"the password of {user.username!r} was not changed: {reason}"), 400
    db = get_db()
    try:
        accounts.reset_password(db, user, form.password.data, by=g.admin, now=now(), min_length=_min_length())
    except ExperimentError as exc:
        db.rollback()
        return _page(NewAdminForm(formdata=None), f"the password of {user.username!r} was not changed: {exc}"), 400
    db.commit()
    if user.id == g.admin.id:  # your own new password ends your login too: start a fresh one
        auth.login_user(user, now())
    flash(f"New password set for {user.username!r}; its earlier logins have ended.", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Deactivate an account (not your own, not the last active one): it cannot log in, its logins end."""
    user = _user(user_id, lock=True)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    db = get_db()
    try:
        accounts.deactivate(db, user, by=g.admin, now=now())
    except accounts.AccountConflict as exc:
        db.rollback()
        return _page(NewAdminForm(formdata=None), str(exc)), 409
    db.commit()
    flash(f"Admin account {user.username!r} deactivated: it cannot log in, and its open sessions have ended.", "ok")
    return redirect(url_for("admin.users"))
