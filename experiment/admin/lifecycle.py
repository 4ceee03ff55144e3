"""A study's life after its run: clone it to a new draft, archive it when finished (or bring it back)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, url_for

from experiment.admin.core import audit_change, bp, study_or_404
from experiment.admin.forms import ActionForm, CloneForm
from experiment.errors import ExperimentError
from experiment.webdb import get_db, now


@bp.post("/studies/<int:experiment_id>/clone")
def clone_study(experiment_id: int) -> Response:
    """Clone the study into a new draft: same manifest, settings, foil policy and quotas; new Prolific codes."""
    from experiment.study import clone_experiment

    source = study_or_404(experiment_id)
    form = CloneForm()
    if not form.validate_on_submit():
        reason = "; ".join(e for errors in form.errors.values() for e in errors) or "the form was invalid"
        abort(400, f"the study was not cloned: {reason}")
    db = get_db()
    try:
        clone = clone_experiment(db, source, name=(form.name.data or "").strip() or None, seed=form.seed.data,
                                 now=now(), foil_policy=form.foil_policy.data or None)
    except ExperimentError as exc:
        db.rollback()
        abort(409, str(exc))
    audit_change(db, "clone_study", f"experiment:{clone.id}", {"from": source.id, "seed": clone.seed,
                                                                "foil_policy": clone.foil_policy})
    db.commit()
    flash(f"Study {clone.id} created as a draft copy of study {source.id}.", "ok")
    return redirect(url_for("admin.study", experiment_id=clone.id))


@bp.post("/studies/<int:experiment_id>/archive")
def archive_study(experiment_id: int) -> Response:
    """Archive a closed study: hidden from the studies list, still exportable, never reopened until unarchived."""
    return _archive(experiment_id, undo=False)


@bp.post("/studies/<int:experiment_id>/unarchive")
def unarchive_study(experiment_id: int) -> Response:
    """Bring an archived study back to the list (closed)."""
    return _archive(experiment_id, undo=True)


def _archive(experiment_id: int, *, undo: bool) -> Response:
    """Archive or unarchive, audited."""
    from experiment.study import archive, is_archived

    experiment = study_or_404(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    if is_archived(experiment) != undo:  # already where it was asked to go
        return redirect(url_for("admin.study", experiment_id=experiment.id))
    try:
        archive(experiment, now(), undo=undo)
    except ExperimentError as exc:
        get_db().rollback()
        abort(409, str(exc))
    audit_change(get_db(), "unarchive_study" if undo else "archive_study", f"experiment:{experiment.id}")
    get_db().commit()
    flash(f"Study {experiment.id} {'is back in the list (closed)' if undo else 'archived'}.", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))
