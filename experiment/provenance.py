"""What a study's data came from, for every export and report: the study, its state and the manifest's data set.

The analysis reads this from the database or from an export's export.json, so a report always names the study,
says whether the EEG behind its clips was simulated, and whether the study was still running (provisional).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from experiment.errors import ExperimentError
from experiment.models import Experiment, ParticipantSession, Version
from experiment.settings import HEADPHONE_SCREENS, StudySettings
from experiment.simulation import SIM_PID_PREFIX


def study_info(engine: Engine, experiment_id: int) -> dict[str, Any]:
    """The study's id, name, state, places (quotas) and completed sessions, and the data set behind its clips."""
    s = ParticipantSession
    with engine.connect() as conn:
        row = conn.execute(sa.select(Experiment.name, Experiment.state, Experiment.manifest_info,
                                     Experiment.manifest_sha256, Experiment.settings,
                                     Experiment.archived_utc)
                           .where(Experiment.id == experiment_id)).first()
        if row is None:
            raise ExperimentError(f"no experiment with id {experiment_id} in this database")
        places = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(Version.quota), 0))
                             .where(Version.experiment_id == experiment_id))
        real = sa.and_(s.experiment_id == experiment_id, s.preview.is_(False), s.withdrawn.is_(False),
                       s.status == "completed")
        simulated = sa.or_(s.simulated.is_(True), s.prolific_pid.like(f"{SIM_PID_PREFIX}%"))
        completed = conn.scalar(sa.select(sa.func.count()).select_from(s).where(real))
        completed_sim = conn.scalar(sa.select(sa.func.count()).select_from(s).where(real, simulated))
    dataset = (row.manifest_info or {}).get("dataset") or {}
    settings = StudySettings.stored(row.settings)
    return {
        "id": int(experiment_id), "name": row.name, "state": row.state,
        "archived": row.archived_utc is not None,
        "places": int(places or 0), "completed": int(completed or 0), "completed_simulated": int(completed_sim or 0),
        "dataset": {"name": dataset.get("name"), "simulated": dataset.get("simulated")},
        "manifest_sha256": row.manifest_sha256,
        "headphone_check": headphone_rule(settings),
        "require_listening": settings.require_listening,
        "second_device": settings.second_device,
    }


HUGGINS_LOUDSPEAKER_PASS = 0.20
COMBINED_LOUDSPEAKER_PASS = 0.07
"""Milne et al. (2021): about 20% of loudspeaker users pass a Huggins-pitch screen alone, about 7% when it is
combined with a second test (antiphase or binaural beat) and both must be passed."""


def headphone_rule(settings: StudySettings) -> dict[str, Any]:
    """The study's headphone screen in words and numbers, with its expected false-positive rate."""
    n, k = settings.headphone_trials, settings.headphone_pass
    screen_out, retries = settings.headphone_screen_out, settings.headphone_retries
    both = settings.headphone_screen == HEADPHONE_SCREENS[1]
    test = "Huggins pitch (3-interval, tone in one burst, audible only over headphones)" + (
        " and antiphase (3 tones, which is quietest; Woods et al. 2017)" if both else "")
    return {
        "screen": "huggins+antiphase" if both else "huggins", "test": test,
        "trials": n, "pass": k, "screen_out": screen_out, "retries": retries,
        "rule": f"at least {k} of {n} right" + (" in each test" if both else "") + "; "
                + ("fail: screened out" if screen_out else "fail: recorded, kept")
                + (f" after {retries} retry" if screen_out and retries else ""),
        "expected_loudspeaker_pass_rate": COMBINED_LOUDSPEAKER_PASS if both else HUGGINS_LOUDSPEAKER_PASS,
        "expected_rate_source": "Milne et al. 2021 (Huggins pitch and a second test both passed)" if both else
                                "Milne et al. 2021 (Huggins pitch alone; about 7% with the antiphase test too: "
                                "headphone_screen=huggins+antiphase)",
    }
