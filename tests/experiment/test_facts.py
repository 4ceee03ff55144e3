"""Participant pages quote the study's own counts and limits (issue 15), not a hard-coded 24, 4 or 30 minutes."""

from __future__ import annotations

import re

import pytest

from experiment.facts import duration_text, seconds_text
from experiment.study import create_experiment
from experiment.webdb import engine_of
from experiment_client import Participant, Study, make_app
from experiment_factory import make_manifest


def text(response) -> str:
    """A page's visible words, tags dropped and blanks squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def small(sqlite_url, tmp_path, clock):
    """12 trials, 2 practice, a 15-minute cap and 45 s per trial."""
    manifest = make_manifest(tmp_path / "small", n_participants=6, per_cell=1, practice=2)
    study = Study(sqlite_url, create_experiment(sqlite_url, manifest, seed=2, settings={
        "session_cap_s": 900, "trial_limit_s": 45, "expected_minutes": 10}))
    app = make_app(study, clock, tmp_path)
    yield study, app
    engine_of(app).dispose()


def test_every_page_quotes_the_design_and_settings(small, clock):
    study, app = small
    p = Participant(app, study.experiment_id)
    landing = text(p.page(""))
    assert "Then 2 practice trials, then 12 trials" in landing
    assert "about 10 minutes (at most 15 minutes)" in landing
    consent = text(p.page("consent"))
    assert "within 45 seconds per trial" in consent and "at most 15 minutes" in consent
    assert "0.2-second sound clips" in consent  # the factory's clips are 0.2 s long
    p.start()
    p.headphones()
    instructions = text(p.page("instructions"))
    assert "45 seconds per trial" in instructions
    assert "The first 2 trials are practice" in instructions and "The 12 real trials do not" in instructions
    p.instructions()
    task = p.page("task").get_data(as_text=True)
    assert 'max="14"' in task and "Now the 12 real trials begin" in task
    for page in (landing, consent, instructions, task):
        assert "24" not in re.sub(r'content="[^"]*"|value="[^"]*"', "", page)
    clock.advance(901)
    assert "The study allows 15 minutes" in text(p.page("time-up"))


def test_default_study_keeps_the_papers_numbers(participant):
    p = participant()
    landing = text(p.page(""))
    assert "Then 4 practice trials, then 24 trials" in landing and "at most 30 minutes" in landing
    assert "within 1 minute per trial" in text(p.page("consent"))


@pytest.mark.parametrize(("seconds", "words"), [(1800, "30 minutes"), (60, "1 minute"), (45, "45 seconds"),
                                                (90, "90 seconds"), (1, "1 second")])
def test_duration_text(seconds, words):
    assert duration_text(seconds) == words


def test_seconds_text():
    assert seconds_text(5.0) == "5-second" and seconds_text(0.2) == "0.2-second"
