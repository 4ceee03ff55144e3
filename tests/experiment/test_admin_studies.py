"""Studies in the admin panel: list, create (upload or server path), open/close, quotas, preview, live progress,
per-clip accuracy, the analysis report; bad ids get a 404 with the reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from admin_support import (  # noqa: F401 - fixtures
    AdminClient, admin, admin_app, fill, lite, lite_app, rows, scalar, study_template,
)
from experiment.models import AuditLog, Clip, Experiment, ParticipantSession, Version
from experiment_factory import make_manifest


def zipped(folder: Path, *, extra: dict[str, bytes] | None = None, prefix: str = "clips/") -> io.BytesIO:
    """The manifest folder as a zip (inside one top folder, as people zip folders)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + str(path.relative_to(folder)))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def audit_actions(url: str) -> list[str]:
    return [a for (a,) in rows(url, sa.select(AuditLog.action).order_by(AuditLog.id))]


def test_studies_list_shows_state(admin, lite):
    page = admin.get("/admin/").get_data(as_text=True)
    assert "test-synthetic" in page and '<span class="state open">open</span>' in page
    data = admin.get("/admin/api/studies").get_json()
    assert data["studies"][0]["state"] == "open" and data["studies"][0]["quota"] == 16


def test_create_from_server_path_as_draft(admin, lite, manifest_path):
    response = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path), "quota": "3", "seed": "5",
                                                 "foil_policy": "same-song", "name": "Pilot", "completion_code": ""})
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    (state, name, foil, seed) = rows(lite.url, sa.select(Experiment.state, Experiment.name, Experiment.foil_policy,
                                                        Experiment.seed).where(Experiment.id == new_id))[0]
    assert (state, name, foil, seed) == ("draft", "Pilot", "same-song", 5)
    assert rows(lite.url, sa.select(Version.quota).where(Version.experiment_id == new_id)) == [(3,), (3,)]
    assert audit_actions(lite.url)[-1] == "create_study"
    assert admin.get(f"/admin/studies/{new_id}").status_code == 200
    folder = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path.parent), "quota": "8",
                                               "seed": "0", "foil_policy": "different-song", "open_now": "y"})
    assert folder.status_code == 302  # a folder means its manifest.json


@pytest.mark.parametrize(("given", "stored"), [({}, 3), ({"places_per_client": "40"}, 40), ({"places_per_client": "0"}, 0)])
def test_create_records_the_places_per_client(admin, lite, manifest_path, given, stored):
    response = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path), "quota": "3", "seed": "5",
                                                 "foil_policy": "same-song", **given})
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    settings = rows(lite.url, sa.select(Experiment.settings).where(Experiment.id == new_id))[0][0]
    assert settings["places_per_client"] == stored


def test_create_from_uploaded_zip(admin, lite, manifest_path, lite_app):
    response = admin.post("/admin/studies/new", {"manifest_zip": (zipped(manifest_path.parent), "clips.zip"),
                                                 "quota": "8", "seed": "1", "foil_policy": "different-song",
                                                 "open_now": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[-500:]
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    uploads = Path(lite_app.instance_path) / "uploads"
    files = rows(lite.url, sa.select(Clip.file_path).where(Clip.experiment_id == new_id))
    assert len(files) == 112 and all(Path(f).is_relative_to(uploads) and Path(f).is_file() for (f,) in files)
    assert scalar(lite.url, sa.select(Experiment.state).where(Experiment.id == new_id)) == "open"


@pytest.mark.parametrize(("extra", "message"), [
    ({"../evil.txt": b"x"}, "unsafe path"),
    ({"/abs.txt": b"x"}, "unsafe path"),
    ({"clips2/manifest.json": b"{}"}, "exactly one manifest.json"),
])
def test_unsafe_or_ambiguous_zip_is_refused(admin, lite, manifest_path, lite_app, extra, message):
    upload = zipped(manifest_path.parent, extra=extra)
    response = admin.post("/admin/studies/new", {"manifest_zip": (upload, "clips.zip"), "quota": "8", "seed": "0",
                                                 "foil_policy": "different-song"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(Experiment)) == 1
    uploads = Path(lite_app.instance_path) / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing left behind


def test_bad_sources_are_refused_with_reasons(admin, lite, tmp_path):
    base = {"quota": "8", "seed": "0", "foil_policy": "different-song"}
    cases = [
        ({}, "either a zip to upload or a manifest path"),
        ({"manifest_path": str(tmp_path / "nowhere.json")}, "there is no manifest file"),
        ({"manifest_zip": (io.BytesIO(b"not a zip"), "x.zip")}, "is not a zip file"),
        ({"manifest_path": str(make_manifest(tmp_path / "one", n_songs=1))}, "song"),
        ({"manifest_path": "x", "quota": "-1"}, "Participants per version"),
    ]
    for data, message in cases:
        response = admin.post("/admin/studies/new", {**base, **data})
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), (data, response.get_data(as_text=True)[-800:])
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(Experiment)) == 1


def test_anonymous_upload_is_refused_before_it_is_read(lite_app):
    big = io.BytesIO(b"0" * (200 * 1024))
    response = AdminClient(lite_app).post("/admin/studies/new", {"manifest_zip": (big, "big.zip")})
    assert response.status_code == 413


def test_open_and_close(admin, lite, lite_app):
    eid = lite.experiment_id
    assert admin.post(f"/admin/studies/{eid}/close").status_code == 302
    assert scalar(lite.url, sa.select(Experiment.state)) == "closed"
    assert "This study is not open" in lite_app.test_client().get(f"/study/{eid}/").get_data(as_text=True)
    assert admin.post(f"/admin/studies/{eid}/open").status_code == 302
    assert scalar(lite.url, sa.select(Experiment.state)) == "open"
    assert audit_actions(lite.url)[-2:] == ["close_study", "open_study"]


def test_quotas(admin, lite):
    eid = lite.experiment_id
    assert admin.post(f"/admin/studies/{eid}/quotas", {"quota-1": "3", "quota-2": "5"}).status_code == 302
    assert rows(lite.url, sa.select(Version.quota).order_by(Version.number)) == [(3,), (5,)]
    (detail,) = rows(lite.url, sa.select(AuditLog.detail).where(AuditLog.action == "set_quotas"))[0]
    assert detail == {"1": {"from": 8, "to": 3}, "2": {"from": 8, "to": 5}}
    bad = admin.post(f"/admin/studies/{eid}/quotas", {"quota-1": "many", "quota-2": "5"})
    assert bad.status_code == 400 and "quota of version 1 must be a whole number" in bad.get_data(as_text=True)
    assert rows(lite.url, sa.select(Version.quota).order_by(Version.number)) == [(3,), (5,)]


def test_preview_runs_the_flow_without_counting(admin, lite):
    eid = lite.experiment_id
    admin.post(f"/admin/studies/{eid}/close")  # previews work whatever the state
    response = admin.post(f"/admin/studies/{eid}/preview", {"version": "2"})
    assert response.status_code == 302 and response.headers["Location"] == f"/study/{eid}/headphones"
    assert admin.client.get(f"/study/{eid}/headphones").status_code == 200
    (sid, preview, version) = rows(lite.url, sa.select(ParticipantSession.id, ParticipantSession.preview,
                                                       Version.number).join(Version))[0]
    assert preview and version == 2
    data = admin.get(f"/admin/api/studies/{eid}/progress").get_json()
    assert data["participants"] == [] and data["previews"] == 1
    assert all(v["started"] == 0 and v["filled"] == 0 for v in data["versions"])
    assert admin.get(f"/admin/studies/{eid}/participants/{sid}").status_code == 404
    assert admin.get("/admin/").status_code == 200  # still logged in
    assert admin.post(f"/admin/studies/{eid}/preview", {"version": "9"}).status_code == 404
    assert admin.post(f"/admin/studies/{eid}/previews/delete").status_code == 302
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(ParticipantSession)) == 0


def test_live_progress_counts_and_participant_table(admin, lite, clock):
    eid = lite.experiment_id
    ids = fill(lite.url, eid, clock, {"done": {"pid": "PID1"}, "quit": {"trials": 3}, "going": {"trials": 6},
                                      "gone": {"trials": 1}})
    clock.advance(31 * 60 - 2 * 28)  # "quit" and "gone" are past their 30 minutes; "going" started last
    response = admin.post(f"/admin/studies/{eid}/participants/{ids['gone']}/withdraw", {"reason": "asked"})
    assert response.status_code == 302
    data = admin.get(f"/admin/api/studies/{eid}/progress").get_json()
    by_label = {label: next(p for p in data["participants"] if p["session_id"] == sid) for label, sid in ids.items()}
    assert by_label["done"]["status"] == "completed" and by_label["done"]["prolific_pid"] == "PID1"
    assert by_label["gone"]["status"] == "withdrawn"
    assert by_label["going"]["trials_done"] == 6 and by_label["going"]["practice_done"] == 4
    assert by_label["going"]["accuracy"] == by_label["going"]["correct"] / 6
    assert by_label["done"]["trials_done"] == by_label["done"]["trials_total"] == 24
    totals = {k: sum(v[k] for v in data["versions"]) for k in ("started", "active", "completed", "timed_out",
                                                                  "abandoned", "withdrawn")}
    assert totals["started"] == 4 and totals["completed"] == 1 and totals["withdrawn"] == 1
    assert totals["active"] + totals["timed_out"] + totals["abandoned"] == 2
    statuses = {p["status"] for p in data["participants"]}
    assert statuses <= {"completed", "withdrawn", "active", "timed_out", "abandoned"}
    page = admin.get(f"/admin/studies/{eid}").get_data(as_text=True)
    assert "PID1" in page and 'data-progress-url="/admin/api/studies/' in page and "js/admin.js" in page
    assert admin.client.get("/static/js/admin.js").status_code == 200


def test_per_clip_accuracy_counts_every_scored_trial_once(admin, lite, clock):
    eid = lite.experiment_id
    fill(lite.url, eid, clock, {"a": {}, "b": {"trials": 10, "side": "B"}, "c": {}})
    clips = admin.get(f"/admin/api/studies/{eid}/progress").get_json()["clips"]
    assert len(clips) == 48
    assert sum(c["match_n"] for c in clips) == 24 + 10 + 24
    assert sum(c["foil_n"] for c in clips) == 24 + 10 + 24
    for c in clips:
        if c["match_n"]:
            assert c["match_accuracy"] == c["match_correct"] / c["match_n"]
    assert "Per-clip accuracy" in admin.get(f"/admin/studies/{eid}").get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/admin/studies/999", "/admin/studies/999/participants/1", "/admin/studies/{eid}/participants/999",
    "/admin/studies/99999999999999", "/admin/studies/999/export/trials.csv", "/admin/studies/999/report",
    "/admin/studies/{eid}/report/results.json", "/admin/studies/{eid}/export/nothing.csv",
])
def test_bad_ids_are_404_with_reason(admin, lite, path):
    response = admin.get(path.format(eid=lite.experiment_id))
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "there is no study" in text or "has no" in text or "not found" in text.lower()


def test_api_bad_id_is_json_404(admin):
    response = admin.get("/admin/api/studies/999/progress")
    assert response.status_code == 404 and response.get_json() == {"error": "not_found",
                                                                    "message": "there is no study 999"}
    for path in ("/admin/studies/999/close", "/admin/studies/999/participants/1/withdraw"):
        assert admin.post(path).status_code == 404


def test_report_message_then_report_then_cached(admin, lite, clock):
    eid = lite.experiment_id
    empty = admin.get(f"/admin/studies/{eid}/report")
    assert empty.status_code == 200 and "No report" in empty.get_data(as_text=True)
    fill(lite.url, eid, clock, {"practice_only": {"trials": 0}})
    only_practice = admin.get(f"/admin/studies/{eid}/report")  # the analysis package says why (AnalysisError)
    assert only_practice.status_code == 200 and "No report" in only_practice.get_data(as_text=True)
    fill(lite.url, eid, clock, {f"p{k}": {} for k in range(3)})
    report = admin.get(f"/admin/studies/{eid}/report")
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert "<html" in report.get_data(as_text=True).lower() and "No report" not in report.get_data(as_text=True)
    csp = report.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert admin.get(f"/admin/studies/{eid}/report").status_code == 200
    assert audit_actions(lite.url).count("run_report") == 1  # unchanged data: the cached report
    assert admin.get(f"/admin/studies/{eid}/report/results.json").get_json()


def test_new_study_takes_participant_text_catch_trials_and_language(admin, lite, manifest_path):
    response = admin.post("/admin/studies/new", {
        "manifest_path": str(manifest_path), "quota": "3", "seed": "0", "foil_policy": "different-song",
        "language": "de", "expected_minutes": "25", "consent_text": "Wir untersuchen Musik.",
        "researcher_contact": "Dr. A", "ethics_reference": "EK-17", "data_retention": "10 Jahre",
        "catch_trials": "2", "too_fast_ms": "1500"})
    assert response.status_code == 302, response.get_data(as_text=True)
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    (settings,) = rows(lite.url, sa.select(Experiment.settings).where(Experiment.id == new_id))[0]
    assert {k: settings[k] for k in ("language", "expected_minutes", "consent_text", "researcher_contact",
                                     "ethics_reference", "data_retention", "catch_trials", "too_fast_ms")} == {
        "language": "de", "expected_minutes": 25, "consent_text": "Wir untersuchen Musik.",
        "researcher_contact": "Dr. A", "ethics_reference": "EK-17", "data_retention": "10 Jahre",
        "catch_trials": 2, "too_fast_ms": 1500}
    bad = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path), "quota": "3", "seed": "0",
                                            "foil_policy": "different-song", "language": "fr"})
    assert bad.status_code == 400


def test_participant_text_form_changes_text_and_language_audited(admin, lite):
    eid = lite.experiment_id
    page = admin.get(f"/admin/studies/{eid}").get_data(as_text=True)
    assert 'id="participant-text"' in page and 'name="consent_text"' in page
    ok = admin.post(f"/admin/studies/{eid}/texts", {"language": "de", "expected_minutes": "15",
                                                    "researcher_contact": "lab@example.org"})
    assert ok.status_code == 302
    (settings,) = rows(lite.url, sa.select(Experiment.settings).where(Experiment.id == eid))[0]
    assert (settings["language"], settings["expected_minutes"], settings["researcher_contact"]) == (
        "de", 15, "lab@example.org")
    (detail,) = rows(lite.url, sa.select(AuditLog.detail).where(AuditLog.action == "set_participant_text"))[0]
    assert detail == {"changed": ["expected_minutes", "language", "researcher_contact"]}
    landing = admin.get(f"/study/{eid}/").get_data(as_text=True)
    assert '<html lang="de">' in landing and "Sie dauert etwa 15 Minuten" in landing
    assert '<html lang="en">' in admin.get(f"/admin/studies/{eid}").get_data(as_text=True)  # the panel stays English
    bad = admin.post(f"/admin/studies/{eid}/texts", {"language": "de", "ethics_reference": "x" * 201})
    assert bad.status_code == 400 and "ethics" in bad.get_data(as_text=True).lower()
