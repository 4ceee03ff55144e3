"""The headphone screen with a known error rate (issue 29): Huggins pitch plus the antiphase test (Milne et al.
2021), the combination a study setting, its expected false-positive rate in the panel, the export and the report."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from experiment.headphone import antiphase_trial
from experiment.provenance import headphone_rule
from experiment.settings import StudySettings
from experiment.study import create_experiment
from loadbot.headphone_ears import quietest_interval


def _channels(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float).reshape(-1, 2)


@pytest.mark.parametrize("target", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 7])
def test_over_headphones_the_soft_tone_is_quietest_over_a_speaker_the_antiphase_one(target, seed):
    data = antiphase_trial(target, seed)
    assert quietest_interval(data) == target  # each ear alone: the 6-dB-softer tone
    both = _channels(data)
    mixed = both.sum(axis=1)  # one loudspeaker: left and right add up in the air
    levels = [np.sqrt(np.mean(p * p)) for p in np.array_split(mixed, 3)]
    assert int(np.argmin(levels)) + 1 != target  # the antiphase tone cancels: a speaker user picks it


def test_the_combined_screen_needs_both_tests(participant_in):
    p = participant_in(headphone_screen="huggins+antiphase")
    assert p.start().status_code == 302
    page = p.page("headphones").get_data(as_text=True)
    assert 'data-play="ap6"' in page and "in each of the two checks" in page
    assert p.client.get(page.split('data-play="ap1" data-url="')[1].split('"')[0]).status_code == 200
    missing = p.post("headphones", {"volume": "0.5", **{f"t{k}": "1" for k in range(1, 7)}})
    assert missing.status_code == 400
    assert p.headphones().status_code == 302 and p.page("instructions").status_code == 200


def test_failing_the_second_test_screens_out(participant_in):
    from experiment.models import ParticipantSession
    from experiment.headphone_check import antiphase_answers, headphone_answers
    from experiment.webdb import get_db

    p = participant_in(headphone_screen="huggins+antiphase")
    p.start()
    p.page("headphones")
    with p.app.app_context():
        s = get_db().query(ParticipantSession).filter_by(token=p.token).one()
        right, wrong = headphone_answers(s, 6), [a % 3 + 1 for a in antiphase_answers(s, 6)]
    form = {"volume": "0.5", **{f"t{k + 1}": str(a) for k, a in enumerate(right)},
            **{f"a{k + 1}": str(a) for k, a in enumerate(wrong)}}
    assert p.post("headphones", form).headers["Location"].endswith("/screened-out")


def test_the_rule_and_its_expected_rate_are_stated():
    alone, both = headphone_rule(StudySettings()), headphone_rule(StudySettings(headphone_screen="huggins+antiphase"))
    assert alone["expected_loudspeaker_pass_rate"] == 0.20 and both["expected_loudspeaker_pass_rate"] == 0.07
    assert "in each test" in both["rule"] and "antiphase" in both["test"]


def test_an_unknown_screen_is_refused(database_url, manifest_path):
    from experiment.errors import ExperimentError

    with pytest.raises(ExperimentError, match="headphone_screen"):
        create_experiment(database_url, manifest_path, settings={"headphone_screen": "beats"})
