"""Preview sessions: the experimenter walks the participant flow (never counted); deleting them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, request, session, url_for

from experiment.admin.core import audit_change, bp, study_or_404
from experiment.admin.forms import ActionForm
from experiment.admin.participants import delete_session_data
from experiment.models import ParticipantSession
from experiment.params import whole_number
from experiment.webdb import get_db, now


@bp.post("/studies/<int:experiment_id>/preview")
def preview(experiment_id: int) -> Response:
    """Start the participant flow as a preview session: any state, no quota, never counted or exported."""
    from experiment.current import remember, stage_url
    from experiment.assignment import start_preview
    from experiment.errors import Conflict

    experiment = study_or_404(experiment_id)
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
    audit_change(db, "preview", f"experiment:{experiment.id}", {"version": number, "session_id": s.id})
    db.commit()
    session.pop(f"prolific:{experiment.id}", None)  # the preview is the experimenter's, under no Prolific id
    remember(experiment.id, s.token)
    return redirect(stage_url(s))


@bp.post("/studies/<int:experiment_id>/previews/delete")
def delete_previews(experiment_id: int) -> Response:
    """Delete the study's preview sessions and everything they logged."""
    experiment = study_or_404(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    db = get_db()
    ids = list(db.scalars(sa.select(ParticipantSession.id).where(
        ParticipantSession.experiment_id == experiment.id, ParticipantSession.preview.is_(True))))
    if ids:
        delete_session_data(db, ids)
        db.execute(sa.delete(ParticipantSession).where(ParticipantSession.id.in_(ids)))
        audit_change(db, "delete_previews", f"experiment:{experiment.id}", {"sessions": len(ids)})
        db.commit()
        flash(f"Deleted {len(ids)} preview session(s).", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))
