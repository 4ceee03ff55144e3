"""The simulated listener's ears and settings (the live runs are in tests/e2e/test_simulation_live.py)."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

from loadbot.errors import LoadbotError
from experiment.headphone import huggins_trial
from loadbot import SimulationConfig, clip_seconds, hear, huggins_interval, percentile_ms
from experiment_factory import write_wav


@pytest.mark.parametrize("target", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_hears_the_huggins_pitch_where_the_ears_differ(target, seed):
    assert huggins_interval(huggins_trial(target, seed)) == target


def test_hears_which_reconstruction_matches(tmp_path):
    def wav(name: str, freq: float, seed: int) -> bytes:
        write_wav(tmp_path / name, freq, seed, 0.5)
        return (tmp_path / name).read_bytes()

    x, match, foil = wav("x.wav", 440.0, 1), wav("m.wav", 444.4, 2), wav("f.wav", 880.0, 3)
    rng = random.Random(0)
    assert hear(x, match, foil, rng) == "A" and hear(x, foil, match, rng) == "B"
    assert clip_seconds(x) == pytest.approx(0.5)
    assert {hear(x, x, x, random.Random(s)) for s in range(20)} == {"A", "B"}  # no information: a coin


def test_percentiles_are_nearest_rank_in_ms():
    values = [i / 1000 for i in range(1, 101)]
    assert (percentile_ms(values, 50), percentile_ms(values, 99), percentile_ms([0.005], 99)) == (50.0, 99.0, 5.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"url": "ftp://example.org"}, "http"),
    ({"url": "127.0.0.1:5000"}, "http"),
    ({"n": 0}, "n=0"),
    ({"accuracy": 1.5}, "accuracy=1.5"),
    ({"reload_p": -0.1}, "reload_p"),
    ({"pace": float("nan")}, "pace"),
    ({"experiment_id": 0}, "experiment_id"),
])
def test_impossible_settings_are_refused(change, message):
    with pytest.raises(LoadbotError, match=message):
        SimulationConfig(**{"url": "http://127.0.0.1:5000", **change}).check()


def test_cli_refuses_bad_options():
    from experiment.cli import cli

    result = CliRunner().invoke(cli, ["simulate", "--url", "http://127.0.0.1:1", "--accuracy", "2"])
    assert result.exit_code == 2 and "accuracy" in result.output
    result = CliRunner().invoke(cli, ["simulate", "--n", "3"])
    assert result.exit_code == 2 and "--url" in result.output
