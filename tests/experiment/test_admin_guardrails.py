"""The panel's guardrails (issue 29): empty consent texts warned about before and after opening, the headphone
screen's rule and expected false-positive rate, the simulation command, 'full' and screened-out counts."""

from __future__ import annotations

import sqlalchemy as sa
from admin_support import admin, admin_app, fill, lite, lite_app, study_template  # noqa: F401 - fixtures
from experiment_client import SECRET

from experiment.db import make_engine
from experiment.models import Experiment, ParticipantSession, Version
from experiment.simulation import simulation_key


def _update(url: str, *statements) -> None:  # noqa: ANN002
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)
    engine.dispose()


def test_study_page_warns_of_empty_consent_texts_and_states_the_checks(admin, lite):
    page = admin.get(f"/admin/studies/{lite.experiment_id}").get_data(as_text=True)
    assert 'id="missing-texts"' in page
    assert "no researcher contact, no ethics approval reference, no data retention" in page
    assert "at least 5 of 6 right" in page and "about 20% of" in page and "Milne et al. 2021" in page
    assert f"--study {lite.experiment_id} --n 16 --key {simulation_key(SECRET, lite.experiment_id)}" in page


def test_filled_texts_lift_the_warning(admin, lite):
    engine = make_engine(lite.url)
    with engine.begin() as conn:
        settings = conn.execute(sa.select(Experiment.settings)).scalar()
        conn.execute(sa.update(Experiment).values(settings={**settings, "researcher_contact": "Dr A, a@example.org",
                                                            "ethics_reference": "ERC-1", "data_retention": "5 years"}))
    engine.dispose()
    assert 'id="missing-texts"' not in admin.get(f"/admin/studies/{lite.experiment_id}").get_data(as_text=True)


def test_opening_a_study_without_contact_says_so(admin, lite):
    _update(lite.url, sa.update(Experiment).values(state="draft"))
    admin.get(f"/admin/studies/{lite.experiment_id}")
    response = admin.post(f"/admin/studies/{lite.experiment_id}/open", {}, follow_redirects=True)
    assert "is open, but its consent page has no researcher contact" in response.get_data(as_text=True)


def test_the_list_counts_screened_out_and_says_full(admin, lite, clock):
    ids = fill(lite.url, lite.experiment_id, clock, {"a": {}, "b": {}, "c": {}})
    _update(lite.url, sa.update(Version).values(quota=1),
            sa.update(ParticipantSession).where(ParticipantSession.id == ids["c"]).values(status="screened_out"))
    page = admin.get("/admin/").get_data(as_text=True)
    assert "study-full" in page and "Screened out" in page  # 2 completed fill the 2 places; the screen-out took none
    _update(lite.url, sa.update(Version).values(quota=2))
    assert "study-full" not in admin.get("/admin/").get_data(as_text=True)


def test_the_panels_report_names_the_study_and_is_provisional_until_closed(admin, lite, clock):
    fill(lite.url, lite.experiment_id, clock, {f"p{k}": {} for k in range(2)})
    running = admin.get(f"/admin/studies/{lite.experiment_id}/report").get_data(as_text=True)
    assert "PROVISIONAL" in running and "2 of 16 sessions complete" in running
    assert f"Study {lite.experiment_id}" in running and "SIMULATED DATA SET" in running  # the test manifest's set
    _update(lite.url, sa.update(Experiment).values(state="closed"))
    closed = admin.get(f"/admin/studies/{lite.experiment_id}/report").get_data(as_text=True)
    assert "PROVISIONAL" not in closed and "Final: the study is closed" in closed
