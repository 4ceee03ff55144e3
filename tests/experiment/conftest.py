"""Fixtures for the experiment tests: a synthetic manifest, a built study, an app with a fake clock, participants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from experiment.study import create_experiment
from experiment.webdb import engine_of
from experiment_client import FakeClock, Participant, Study, make_app
from experiment_factory import make_manifest



@pytest.fixture(scope="session")
def manifest_path(tmp_path_factory) -> Path:
    """The contract's clips (48 reconstructions, 48 targets, 4 + 4 practice) as tiny WAV files."""
    return make_manifest(tmp_path_factory.mktemp("clips"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def study(database_url: str, manifest_path: Path) -> Study:
    """A fresh database holding one open study (quota 8 per version)."""
    return Study(database_url, create_experiment(database_url, manifest_path, seed=1))


@pytest.fixture
def app(study: Study, clock: FakeClock, tmp_path: Path) -> Iterator:
    application = make_app(study, clock, tmp_path)
    yield application
    engine_of(application).dispose()


@pytest.fixture
def participant(app, study):
    """A factory of participants walking the flow on `app`."""
    return lambda: Participant(app, study.experiment_id)


@pytest.fixture
def participant_in(database_url: str, manifest_path: Path, clock: FakeClock, tmp_path: Path) -> Iterator:
    """A factory: a new participant of a fresh study made with these settings (each study its own app)."""
    apps = []

    def make(**settings) -> Participant:
        study = Study(database_url, create_experiment(database_url, manifest_path, seed=1, settings=settings))
        app = make_app(study, clock, tmp_path)
        apps.append(app)
        return Participant(app, study.experiment_id)

    yield make
    for app in apps:
        engine_of(app).dispose()
