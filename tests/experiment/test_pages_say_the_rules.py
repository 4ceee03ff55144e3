"""What the participant pages say (issue 29): the headphone rule and its outcome, simulated EEG in the debrief,
the key help of the task page; the not-found page tells admins nothing about a participant's progress."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("settings, outcome", [
    ({}, "the study ends there: you will get a code"),
    ({"headphone_retries": 1}, "one more try with new sounds"),
    ({"headphone_screen_out": False}, "you still go on"),
    ({"headphone_pass": 4}, "at least 4 of the 6 answers must be right"),
])
def test_the_headphone_page_states_the_rule_and_the_outcome(participant_in, settings, outcome):
    p = participant_in(**settings)
    assert p.start().status_code == 302
    page = p.page("headphones").get_data(as_text=True)
    assert 'id="hp-rule"' in page and outcome in page.replace("\n", " ").replace("  ", " ")


def test_the_debrief_says_the_eeg_was_simulated_when_it_was(participant_in):
    p = participant_in()
    p.ready()
    p.finish_trials()
    p.post("questionnaire", {})
    page = p.page("debrief").get_data(as_text=True)
    assert 'id="simulated-eeg"' in page and "not recorded from people" in page


def test_the_task_page_says_answers_open_after_all_three_played(participant_in):
    p = participant_in()
    p.ready()
    page = p.page("task").get_data(as_text=True)
    assert 'id="answer-hint"' in page and "Once all three have played" in page


def test_the_not_found_page_tells_admins_nothing_about_progress(app):
    admin_page = app.test_client().get("/admin/no-such-page")
    study_page = app.test_client().get("/study/99999/")
    assert admin_page.status_code == study_page.status_code == 404
    assert "Your progress is kept" not in admin_page.get_data(as_text=True)
    assert "Your progress is kept" in study_page.get_data(as_text=True)
