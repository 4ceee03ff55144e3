"""Study settings (experiment/settings.py): one set of defaults, one validator, every setting reachable from the CLI's
`experiment create` and from the admin's new-study form, and studies stored before a setting existed still load."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from admin_support import admin, admin_app, lite, lite_app, rows, study_template  # noqa: F401 - fixtures
from experiment.cli import cli
from experiment.db import make_engine
from experiment.errors import ExperimentError
from experiment.models import Experiment
from experiment.settings import DEFAULTS, NAMES, StudySettings

# one value per setting that differs from its default (a setting the CLI or form drops would keep the default)
CHANGED = {
    "session_cap_s": 2400, "trial_limit_s": 45, "headphone_trials": 8, "headphone_pass": 7,
    "headphone_screen": "huggins+antiphase", "headphone_screen_out": False, "headphone_retries": 1,
    "require_listening": False, "second_device": "recheck", "idle_release_s": 300, "require_prolific": True,
    "prolific_study_id": "STUDY42", "places_per_client": 9, "places_window_s": 1200, "events_per_session": 900,
    "catch_trials": 2, "too_fast_ms": 1500, "language": "de", "expected_minutes": 25, "consent_text": "About us.",
    "researcher_contact": "lab@example.org", "ethics_reference": "ETH-1", "data_retention": "Ten years.",
    "completion_code": "DONE42", "screened_out_code": "OUT42",
}


def test_the_changed_values_cover_every_setting_and_differ_from_its_default():
    assert set(CHANGED) == set(NAMES)
    assert [k for k in NAMES if CHANGED[k] == getattr(DEFAULTS, k)] == []
    assert StudySettings.checked(CHANGED).as_dict() == CHANGED


def _option(name: str, value: object) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else flag.replace("--", "--no-", 1)]
    return [flag, str(value)]


def test_every_setting_is_reachable_from_the_cli(sqlite_url, manifest_path):
    args = [a for name, value in CHANGED.items() for a in _option(name, value)]
    result = CliRunner().invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url, *args])
    assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(Experiment.settings)).scalar_one()
    finally:
        engine.dispose()
    assert stored == CHANGED


FORM = {  # the new-study form's fields for CHANGED (some in minutes, some as choices)
    "session_cap_minutes": "40", "trial_limit_s": "45", "headphone_trials": "8", "headphone_pass": "7",
    "headphone_screen": "huggins+antiphase", "headphone_screen_out": "go_on", "headphone_retry": "y",
    "second_device": "recheck", "idle_minutes": "5", "require_prolific": "y",
    "prolific_study_id": "STUDY42", "places_per_client": "9", "places_window_minutes": "20",
    "events_per_session": "900", "catch_trials": "2", "too_fast_ms": "1500", "language": "de",
    "expected_minutes": "25", "consent_text": "About us.", "researcher_contact": "lab@example.org",
    "ethics_reference": "ETH-1", "data_retention": "Ten years.", "completion_code": "DONE42",
    "screened_out_code": "OUT42",  # require_listening: an unticked box is not posted
}


def test_every_setting_is_reachable_from_the_admin_form(admin, lite, manifest_path):
    response = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path), "quota": "3", **FORM})
    assert response.status_code == 302, response.get_data(as_text=True)
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    (stored,) = rows(lite.url, sa.select(Experiment.settings).where(Experiment.id == new_id))[0]
    assert stored == CHANGED


def test_a_bad_form_setting_is_a_400_naming_it(admin, lite, manifest_path):
    response = admin.post("/admin/studies/new", {"manifest_path": str(manifest_path), "quota": "3",
                                                 "headphone_trials": "4", "headphone_pass": "5"})
    assert response.status_code == 400 and "headphone_pass=5 must be at most" in response.get_data(as_text=True)


def test_a_bad_cli_setting_is_one_line(sqlite_url, manifest_path, capsys):
    from tuneback.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["experiment", "create", "--manifest", str(manifest_path), "--db", sqlite_url,
              "--headphone-trials", "4", "--headphone-pass", "5"])
    said = capsys.readouterr().err.strip()
    assert stop.value.code not in (0, None) and "\n" not in said
    assert "headphone_pass=5 must be at most headphone_trials=4" in said


@pytest.mark.parametrize(("bad", "says"), [
    ({"nonsense": 1}, "unknown study setting: nonsense"),
    ({"session_cap_s": 0}, "session_cap_s=0 must be a whole number from 1"),
    ({"trial_limit_s": 2.5}, "trial_limit_s=2.5 must be a whole number"),
    ({"headphone_trials": 0}, "headphone_trials=0 must be a whole number"),
    ({"headphone_pass": 7}, "headphone_pass=7 must be at most headphone_trials=6"),
    ({"headphone_screen": "beats"}, "headphone_screen='beats' must be one of huggins, huggins+antiphase"),
    ({"headphone_screen_out": "yes"}, "headphone_screen_out='yes' must be true or false"),
    ({"headphone_retries": 2}, "headphone_retries=2 must be a whole number from 0 to 1"),
    ({"require_listening": 1}, "require_listening=1 must be true or false"),
    ({"second_device": "allow"}, "second_device='allow' must be one of refuse, recheck"),
    ({"idle_release_s": -1}, "idle_release_s=-1 must be a whole number"),
    ({"places_per_client": True}, "places_per_client=True must be a whole number"),
    ({"places_window_s": 0}, "places_window_s=0 must be a whole number"),
    ({"events_per_session": "many"}, "events_per_session='many' must be a whole number"),
    ({"catch_trials": 13}, "catch_trials=13 must be a whole number from 0 to 12"),
    ({"too_fast_ms": None}, "too_fast_ms=None must be a whole number"),
    ({"language": "fr"}, "language='fr' must be one of en, de"),
    ({"expected_minutes": 0}, "expected_minutes=0 must be a whole number from 1 to 600"),
    ({"consent_text": 5}, "consent_text must be text, not int"),
    ({"researcher_contact": "x" * 501}, "researcher_contact is 501 characters long; at most 500"),
    ({"prolific_study_id": "x" * 65}, "prolific_study_id is 65 characters long; at most 64"),
])
def test_the_validator_refuses_a_bad_value_in_one_line(bad, says):
    with pytest.raises(ExperimentError) as refused:
        StudySettings.checked(bad)
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_a_bad_setting_is_refused_when_a_study_is_made(database_url, manifest_path):
    from experiment.study import create_experiment

    with pytest.raises(ExperimentError, match="session_cap_s=0"):
        create_experiment(database_url, manifest_path, settings={"session_cap_s": 0})


ISSUE_15_ROW = {  # as a study made before issues 25-29 stored them (no listening rule, no idle release; the
    # archive time, moved to a column by migration 0008, is read silently if a row still has it)
    "session_cap_s": 1800, "trial_limit_s": 60, "headphone_trials": 6, "headphone_pass": 5,
    "require_prolific": False, "prolific_study_id": None, "completion_code": "OLD1", "screened_out_code": "OLD2",
    "archived_utc": "2026-01-01T00:00:00+00:00", "retired_setting": 3,
}


def test_old_stored_settings_load_as_the_study_ran(caplog):
    with caplog.at_level(logging.INFO, logger="experiment.settings"):
        old = StudySettings.stored(ISSUE_15_ROW)
    assert (old.require_listening, old.idle_release_s) == (False, None)  # what the study ran under, not today's
    assert (old.completion_code, old.places_per_client, old.second_device) == ("OLD1", 3, "refuse")
    assert "retired_setting" in caplog.text and "archived_utc" not in caplog.text  # noted; state is no setting
    assert StudySettings.stored(None) == StudySettings.stored({}) == dataclasses.replace(
        DEFAULTS, require_listening=False, idle_release_s=None)


def test_an_old_study_row_runs_through_the_readers(database_url, manifest_path):
    from experiment.db import session_factory
    from experiment.headphone_check import HeadphonePolicy, uses_antiphase
    from experiment.timing import Limits
    from experiment.study import create_experiment

    experiment_id = create_experiment(database_url, manifest_path)
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as db:
            experiment = db.get(Experiment, experiment_id)
            experiment.settings = dict(ISSUE_15_ROW)
            db.commit()
            limits = Limits.of(experiment)
            assert (limits.session_cap_s, limits.trial_limit_s, limits.idle_release_s) == (1800.0, 60.0, None)
            assert HeadphonePolicy.of(experiment) == HeadphonePolicy(True, 0)
            assert not uses_antiphase(experiment)
    finally:
        engine.dispose()


def test_changes_to_an_existing_study_go_through_the_same_validator():
    assert StudySettings.checked_changes({"consent_text": "  ", "expected_minutes": None, "language": "de"}) == {
        "consent_text": None, "expected_minutes": None, "language": "de"}  # blank: back to the page's default
    for bad, says in [({"language": "fr"}, "language='fr' must be one of en, de"),
                      ({"expected_minutes": 601}, "expected_minutes=601 must be a whole number from 1 to 600"),
                      ({"colour": "red"}, "unknown study setting: colour")]:
        with pytest.raises(ExperimentError, match=says.replace("(", r"\(").replace(")", r"\)")):
            StudySettings.checked_changes(bad)
