"""Downloading a study's tables (CSV, Parquet, or all of them in one zip); each download is audited."""

from __future__ import annotations

from flask import Response, current_app, request

from experiment import export
from experiment.admin.core import audit_change, bp, download, release_transaction, study_or_404
from experiment.webdb import engine_of, get_db, now


@bp.get("/studies/<int:experiment_id>/export/<any(trials,events,questionnaire,playback,dictionary):name>."
        "<any(csv,parquet):fmt>")
def export_table(experiment_id: int, name: str, fmt: str) -> Response:
    """Download one table of a study as CSV or Parquet (the dictionary is always CSV)."""
    experiment = study_or_404(experiment_id)
    release_transaction()
    frame = export.table(engine_of(current_app), experiment.id, name)
    fmt = "csv" if name == "dictionary" else fmt
    data = export.to_bytes(frame, fmt)
    audit_change(get_db(), "export", f"experiment:{experiment.id}", {"table": name, "format": fmt, "rows": len(frame)})
    get_db().commit()
    return download(data, export.filename(experiment.id, name, fmt), export.MIMETYPES[fmt])


@bp.get("/studies/<int:experiment_id>/export.<any(csv,parquet):fmt>.zip")
def export_all(experiment_id: int, fmt: str) -> Response:
    """Download every table, the data dictionary and export.json in one zip (`?valid=1`: withdrawn left out)."""
    experiment = study_or_404(experiment_id)
    valid_only = request.args.get("valid") == "1"
    release_transaction()
    files = export.export_bundle(engine_of(current_app), experiment.id, fmt, now=now(), valid_only=valid_only)
    folder = f"study-{experiment.id}-export-{'valid-' if valid_only else ''}{fmt}"
    audit_change(get_db(), "export", f"experiment:{experiment.id}",
                 {"table": "all", "format": fmt, "valid_only": valid_only})
    get_db().commit()
    return download(export.zip_bundle(files, folder), f"{folder}.zip", export.MIMETYPES["zip"])


@bp.get("/studies/<int:experiment_id>/export-previews.<any(csv,parquet):fmt>.zip")
def export_previews(experiment_id: int, fmt: str) -> Response:
    """Download the experimenter's preview sessions alone (the same tables; never mixed with participants)."""
    experiment = study_or_404(experiment_id)
    release_transaction()
    files = export.export_bundle(engine_of(current_app), experiment.id, fmt, now=now(), previews=True)
    folder = f"study-{experiment.id}-previews-{fmt}"
    audit_change(get_db(), "export", f"experiment:{experiment.id}", {"table": "previews", "format": fmt})
    get_db().commit()
    return download(export.zip_bundle(files, folder), f"{folder}.zip", export.MIMETYPES["zip"])
