"""Studies: the list, creating one (from an uploaded zip or a manifest on the server), its page, opening and
closing it, quotas, and the JSON the live progress table polls."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from experiment.admin.core import audit_change, bp, study_or_404
from experiment.admin.forms import ActionForm, NewStudyForm, StudyTextForm
from experiment.admin.uploads import find_manifest, server_manifest, unpack_upload
from experiment.errors import ExperimentError
from experiment.params import whole_number
from experiment.progress import progress_payload, study_summaries
from experiment.status import ExperimentState
from experiment.webdb import get_db, now


@bp.get("/")
def studies() -> str:
    """List the studies with their state and how far recruitment has got; archived ones only with ?archived=1."""
    rows = study_summaries(get_db(), now())
    show_archived = request.args.get("archived") == "1"
    shown = [r for r in rows if show_archived or not r["archived"]]
    return render_template("admin/studies.html", studies=shown, show_archived=show_archived,
                           n_archived=sum(r["archived"] for r in rows))


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
            unpacked = unpack_upload(upload)  # type: ignore[arg-type]
            manifest_file = find_manifest(unpacked)
        else:
            manifest_file = server_manifest(path_text)
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
    settings = form.settings()
    db = get_db()
    experiment = add_experiment(db, manifest, quota=form.quota.data, seed=form.seed.data,
                                foil_policy=form.foil_policy.data, open_=bool(form.open_now.data),
                                name=(form.name.data or "").strip() or None, now=now(), settings=settings,
                                completion_code=settings.pop("completion_code"),
                                screened_out_code=settings.pop("screened_out_code"))
    audit_change(db, "create_study", f"experiment:{experiment.id}",
                 {"manifest": str(manifest.path), "sha256": manifest.sha256, "uploaded": uploaded,
                  "quota": form.quota.data, "seed": form.seed.data, "foil_policy": experiment.foil_policy,
                  "state": experiment.state})
    db.commit()
    return experiment.id


@bp.get("/studies/<int:experiment_id>")
def study(experiment_id: int) -> str:
    """One study: state, quotas, preview, live progress per version, participants, per-clip accuracy."""
    experiment = study_or_404(experiment_id)
    from experiment.admin.forms import CloneForm
    from experiment.study import is_archived

    from experiment.observer_lines import kind_accuracy_rows

    data = progress_payload(get_db(), experiment, now())
    from experiment.admin.guardrails import study_notes

    return render_template("admin/study.html", experiment=experiment, data=data, states=ExperimentState,
                           archived=is_archived(experiment), clone_form=CloneForm(formdata=None),
                           text_form=_text_form(experiment), kinds=kind_accuracy_rows(get_db(), experiment),
                           notes=study_notes(experiment))


def _text_form(experiment, formdata=None) -> StudyTextForm:  # noqa: ANN001 - Experiment
    """The participant-text form, filled from the study's settings."""
    from experiment.settings import DEFAULTS, StudySettings
    from experiment.texts import StudyTexts

    s = StudySettings.of(experiment)
    t = StudyTexts.of(s)
    return StudyTextForm(formdata=formdata, data={
        "language": t.language, "expected_minutes": s.expected_minutes or DEFAULTS.expected_minutes,
        "consent_text": t.consent_text or "", "researcher_contact": t.researcher_contact or "",
        "ethics_reference": t.ethics_reference or "", "data_retention": t.data_retention or ""})


@bp.post("/studies/<int:experiment_id>/texts")
def texts(experiment_id: int) -> Response | tuple[str, int]:
    """Change the study's participant text and language, audited (what changed, not the whole text)."""
    from experiment.study import configure

    experiment = study_or_404(experiment_id)
    form = StudyTextForm()
    if not form.validate_on_submit():
        abort(400, "the participant-text form was invalid: " + "; ".join(
            f"{name}: {', '.join(errors)}" for name, errors in form.errors.items()))
    try:
        changed = configure(get_db(), experiment, form.texts())
    except ExperimentError as exc:
        get_db().rollback()
        abort(400, str(exc))
    if changed:
        audit_change(get_db(), "set_participant_text", f"experiment:{experiment.id}", {"changed": sorted(changed)})
        get_db().commit()
        flash("Participant text saved: " + ", ".join(sorted(changed)) + ".", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


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

    experiment = study_or_404(experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400, "the form was invalid")
    before = experiment.state
    if before != state.value:
        try:
            set_state(get_db(), experiment, state.value, now())
        except ExperimentError as exc:  # an archived study is not reopened
            get_db().rollback()
            abort(409, str(exc))
        audit_change(get_db(), f"{'open' if state is ExperimentState.OPEN else 'close'}_study",
                     f"experiment:{experiment.id}", {"from": before, "to": state.value})
        get_db().commit()
        flash(f"Study {experiment.id} is now {state.value}.", "ok")
        if state is ExperimentState.OPEN:
            from experiment.admin.guardrails import missing_texts

            if missing := missing_texts(experiment):  # opened anyway: say what participants will not be told
                flash(f"Study {experiment.id} is open, but its consent page has no {', no '.join(missing)}: "
                      "add them under Participant text.", "notice")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


@bp.post("/studies/<int:experiment_id>/quotas")
def quotas(experiment_id: int) -> Response:
    """Set each version's quota (participants per version)."""
    experiment = study_or_404(experiment_id)
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
        audit_change(get_db(), "set_quotas", f"experiment:{experiment.id}", changes)
        get_db().commit()
        flash("Quotas saved.", "ok")
    return redirect(url_for("admin.study", experiment_id=experiment.id))


@bp.get("/api/studies/<int:experiment_id>/progress")
def progress(experiment_id: int) -> Response:
    """Live progress of one study as JSON (polled by static/js/admin.js)."""
    experiment = study_or_404(experiment_id)
    payload = progress_payload(get_db(), experiment, now())
    get_db().rollback()
    return jsonify(payload)


@bp.get("/api/studies")
def studies_api() -> Response:
    """The studies list as JSON."""
    rows = study_summaries(get_db(), now())
    get_db().rollback()
    return jsonify(studies=[{**r, "created_utc": r["created_utc"].isoformat()} for r in rows])
