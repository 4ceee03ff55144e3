"""A study's life after its run (issue 15): clone to a new draft, archive a finished one, export previews apart."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
import sqlalchemy as sa

from admin_support import listened  # noqa: E402
from admin_support import (  # noqa: F401 - fixtures
    AdminClient, admin, fill, lite, lite_app, rows, scalar, study_template,
)
from experiment.db import make_engine, session_factory
from experiment.models import AuditLog, Experiment, ParticipantSession, Version


def _study(url: str, eid: int) -> Experiment:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            e = db.get(Experiment, eid)
            return Experiment(id=e.id, name=e.name, state=e.state, seed=e.seed, foil_policy=e.foil_policy,
                              settings=dict(e.settings), manifest_sha256=e.manifest_sha256,
                              observer_lines=e.observer_lines)
    finally:
        engine.dispose()


def _quotas(url: str, eid: int) -> list[tuple[int, int]]:
    return rows(url, sa.select(Version.number, Version.quota).where(Version.experiment_id == eid)
                .order_by(Version.number))


def test_a_clone_is_a_draft_with_the_same_design_settings_and_quotas(admin, lite):
    eid = lite.experiment_id
    admin.post(f"/admin/studies/{eid}/quotas", {"quota-1": "5", "quota-2": "7"})
    response = admin.post(f"/admin/studies/{eid}/clone", {"name": "", "seed": ""})
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    source, clone = _study(lite.url, eid), _study(lite.url, new_id)
    assert (clone.state, clone.seed, clone.foil_policy, clone.manifest_sha256) == (
        "draft", source.seed, source.foil_policy, source.manifest_sha256)
    assert clone.name == f"Copy of {source.name}" and _quotas(lite.url, new_id) == [(1, 5), (2, 7)]
    codes = ("completion_code", "screened_out_code")
    assert all(clone.settings[k] != source.settings[k] for k in codes)  # a new Prolific study, new codes
    assert {k: v for k, v in clone.settings.items() if k not in codes} == {
        k: v for k, v in source.settings.items() if k not in codes}
    assert rows(lite.url, sa.select(AuditLog.action, AuditLog.detail).order_by(AuditLog.id.desc()))[0] == (
        "clone_study", {"from": eid, "seed": source.seed, "foil_policy": "mixed"})
    named = admin.post(f"/admin/studies/{eid}/clone", {"name": "Replication", "seed": "9"})
    other = _study(lite.url, int(named.headers["Location"].rsplit("/", 1)[1]))
    assert (other.name, other.seed) == ("Replication", 9)


def test_a_clone_may_change_the_foil_policy_and_keeps_the_lines_that_still_hold(admin, lite):
    from experiment.observer_lines import store_observer_lines

    eid = lite.experiment_id
    line = {"n": 24, "correct": 18, "accuracy": 0.75}
    store_observer_lines(lite.url, eid, {"kinds": {"same-song": {"every_pair": line, "study_trials": line}}})
    same = _study(lite.url, int(admin.post(f"/admin/studies/{eid}/clone", {"seed": ""}).headers["Location"]
                                .rsplit("/", 1)[1]))
    assert same.foil_policy == "mixed" and set(same.observer_lines["kinds"]["same-song"]) == {"every_pair", "study_trials"}
    paper = _study(lite.url, int(admin.post(f"/admin/studies/{eid}/clone", {"foil_policy": "different-song"})
                                 .headers["Location"].rsplit("/", 1)[1]))
    assert paper.foil_policy == "different-song" and set(paper.observer_lines["kinds"]["same-song"]) == {"every_pair"}
    assert admin.post(f"/admin/studies/{eid}/clone", {"foil_policy": "sideways"}).status_code == 400


def test_a_study_whose_manifest_changed_is_not_cloned(admin, lite):
    engine = make_engine(lite.url)
    with engine.begin() as conn:
        conn.execute(sa.update(Experiment).values(manifest_sha256="0" * 64))
    engine.dispose()
    response = admin.post(f"/admin/studies/{lite.experiment_id}/clone", {"name": "x"})
    assert response.status_code == 409 and "has changed" in response.get_data(as_text=True)
    assert scalar(lite.url, sa.select(sa.func.count()).select_from(Experiment)) == 1


@pytest.mark.parametrize("seed", ["-1", "x", "99999999999"])
def test_a_bad_clone_seed_is_refused(admin, lite, seed):
    assert admin.post(f"/admin/studies/{lite.experiment_id}/clone", {"seed": seed}).status_code == 400


def test_an_archived_study_is_hidden_exportable_and_takes_nobody(admin, lite, lite_app):
    eid = lite.experiment_id
    response = admin.post(f"/admin/studies/{eid}/archive")
    assert response.status_code == 409 and "close it before archiving" in response.get_data(as_text=True)
    admin.post(f"/admin/studies/{eid}/close")
    assert admin.post(f"/admin/studies/{eid}/archive").status_code == 302
    listed = admin.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/studies/{eid}"' not in listed and "Show 1 archived study" in listed
    assert f'href="/admin/studies/{eid}"' in admin.get("/admin/?archived=1").get_data(as_text=True)
    assert admin.get(f"/admin/studies/{eid}/export.csv.zip").status_code == 200
    reopened = admin.post(f"/admin/studies/{eid}/open")
    assert reopened.status_code == 409 and "archived" in reopened.get_data(as_text=True)
    assert _study(lite.url, eid).state == "closed"
    landing = lite_app.test_client().get(f"/study/{eid}/", follow_redirects=True)
    assert "This study is not open" in landing.get_data(as_text=True)
    assert admin.post(f"/admin/studies/{eid}/unarchive").status_code == 302
    assert f'href="/admin/studies/{eid}"' in admin.get("/admin/").get_data(as_text=True)
    assert admin.post(f"/admin/studies/{eid}/open").status_code == 302
    actions = [a for (a,) in rows(lite.url, sa.select(AuditLog.action).order_by(AuditLog.id)) if a != "export"]
    assert actions[-4:] == ["close_study", "archive_study", "unarchive_study", "open_study"]


def _walk_preview(url: str, session_id: int, clock, trials: int = 2) -> None:
    """Answer a few trials of a preview session with the library functions."""
    from experiment.headphone_check import headphone_answers, submit_headphone
    from experiment.session_rows import presentations
    from experiment.trials import answer, present, start_task
    from experiment.session_rows import trial_key

    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            s = db.get(ParticipantSession, session_id)
            submit_headphone(db, s, headphone_answers(s, 6), 0.5, clock.now)
            start_task(db, s, clock.now)
            db.commit()
            for k, p in enumerate(presentations(db, s)[:trials]):
                present(db, s, trial_key(p), clock.now)
                listened(db, s, p, clock.now)
                answer(db, s, trial=trial_key(p), side="A", client_id=f"preview-{k}", now=clock.now)
                db.commit()
    finally:
        engine.dispose()


def _tables(response) -> dict[str, pd.DataFrame]:
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return {name.rsplit("/", 1)[1]: pd.read_csv(archive.open(name)) for name in archive.namelist()
                if name.endswith(".csv")}


def test_previews_are_exported_apart_and_never_with_participants(admin, lite, clock):
    eid = lite.experiment_id
    fill(lite.url, eid, clock, {"real": {"pid": "REAL1", "trials": 3}})
    admin.post(f"/admin/studies/{eid}/preview", {"version": "1"})
    (preview_id,) = rows(lite.url, sa.select(ParticipantSession.id).where(ParticipantSession.preview.is_(True)))[0]
    _walk_preview(lite.url, preview_id, clock)
    listeners = dict(rows(lite.url, sa.select(ParticipantSession.preview, ParticipantSession.listener)))
    real = _tables(admin.get(f"/admin/studies/{eid}/export.csv.zip"))
    previews = _tables(admin.get(f"/admin/studies/{eid}/export-previews.csv.zip"))
    for name in (f"study-{eid}-trials.csv", f"study-{eid}-events.csv"):
        assert set(real[name]["listener"]) == {listeners[False]}, name
        assert set(previews[name]["listener"]) == {listeners[True]}, name
    assert len(previews[f"study-{eid}-trials.csv"]) == 2
    response = admin.get(f"/admin/studies/{eid}/export-previews.parquet.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert b"experimenter preview sessions only" in archive.read(f"study-{eid}-previews-parquet/export.json")
    assert rows(lite.url, sa.select(AuditLog.detail).order_by(AuditLog.id.desc()))[0][0]["table"] == "previews"
    assert admin.get("/admin/studies/99/export-previews.csv.zip").status_code == 404
