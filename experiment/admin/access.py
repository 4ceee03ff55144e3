"""Logging experimenters in and out."""

from __future__ import annotations

from flask import Response, abort, g, redirect, render_template, request, url_for

from experiment import auth
from experiment.admin.core import audit_change, bp
from experiment.admin.forms import ActionForm
from experiment.webdb import get_db, now


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
    audit_change(get_db(), "logout", f"admin_user:{g.admin.username}")
    get_db().commit()
    auth.logout_user()
    return redirect(url_for("admin.login"))
