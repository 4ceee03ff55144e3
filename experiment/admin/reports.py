"""The study's analysis report, cached under instance/reports/ and rerun only when the data changed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from flask import Response, abort, current_app, render_template

from experiment.admin.core import audit_change, bp, download, release_transaction, study_or_404
from experiment.errors import ExperimentError
from experiment.webdb import engine_of, get_db

log = logging.getLogger(__name__)

REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
"""The analysis report is one self-contained page with inline CSS and data: images, and no script at all."""


@bp.get("/studies/<int:experiment_id>/report")
def report(experiment_id: int) -> Response | tuple[str, int] | str:
    """The study's analysis report (analysis.report), rerun only when the data changed since the last one."""
    experiment = study_or_404(experiment_id)
    release_transaction()
    try:
        folder = _report_folder(experiment.id)
    except ExperimentError as exc:
        return render_template("admin/report_error.html", experiment=experiment, message=str(exc)), 200
    response = Response((folder / "report.html").read_bytes(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@bp.get("/studies/<int:experiment_id>/report/results.json")
def report_results(experiment_id: int) -> Response:
    """Every figure of the last report, as JSON (404 until the report has been run)."""
    experiment = study_or_404(experiment_id)
    path = _report_root(experiment.id) / "current" / "results.json"
    if not path.is_file():
        abort(404, f"study {experiment.id} has no analysis results yet: open its report first")
    return download(path.read_bytes(), f"study-{experiment.id}-results.json", "application/json")


def _report_root(experiment_id: int) -> Path:
    """instance/reports/study-<id>/."""
    return Path(current_app.instance_path) / "reports" / f"study-{experiment_id}"


def _report_folder(experiment_id: int) -> Path:
    """The folder of an up-to-date report for this study, running the analysis if the data changed.

    Raises ExperimentError with the analysis package's message (e.g. no answered trials yet).
    """
    from experiment.tidy import trial_table

    from experiment.provenance import study_info

    table = trial_table(engine_of(current_app), experiment_id)
    study = study_info(engine_of(current_app), experiment_id)  # names the study; "provisional" while it runs
    reps = int(current_app.config["ADMIN_REPORT_POWER_REPS"])
    fingerprint = hashlib.sha256(table.to_csv(index=False).encode() + f"|reps={reps}|".encode()
                                 + json.dumps(study, sort_keys=True, default=str).encode()).hexdigest()
    root = _report_root(experiment_id)
    current = root / "current"
    if (current / "fingerprint").is_file() and (current / "fingerprint").read_text() == fingerprint \
            and (current / "report.html").is_file():
        return current
    try:
        from analysis.errors import AnalysisError
        from analysis.report import analyze
    except ImportError as exc:
        raise ExperimentError(f"the analysis package is not available on this server ({exc})") from exc
    if table.empty:
        raise ExperimentError("no trials have been shown yet: the report appears once participants have answered")
    table.attrs["source"] = {"kind": "database", "experiment_id": int(experiment_id), "via": "admin panel"}
    table.attrs["study"] = study
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        analyze(table, out_dir=work, power_reps=reps)
        (work / "fingerprint").write_text(fingerprint)
    except AnalysisError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ExperimentError(str(exc)) from exc
    except Exception as exc:  # a bug in the analysis must not take the panel down: log it, say so
        shutil.rmtree(work, ignore_errors=True)
        log.exception("analysis of study %s failed", experiment_id)
        raise ExperimentError(f"the analysis failed on these data ({exc.__class__.__name__}: {exc}); the server "
                              "log has the details") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _replace_dir(work, current)
    audit_change(get_db(), "run_report", f"experiment:{experiment_id}", {"rows": int(len(table)), "power_reps": reps})
    get_db().commit()
    return current


def _replace_dir(new: Path, current: Path) -> None:
    """Put `new` in place of `current` (two concurrent runs: the last one wins, neither sees half a folder)."""
    old = current.with_name(f"old-{secrets.token_hex(4)}")
    try:
        os.replace(current, old)
    except OSError:  # no report yet (or another request just moved it)
        old = None  # type: ignore[assignment]
    try:
        os.replace(new, current)
    except OSError:  # another request put its report there in between: keep theirs
        shutil.rmtree(new, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
