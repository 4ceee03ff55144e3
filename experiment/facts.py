"""What the participant pages say about the study (trial and practice counts, time limits, clip length), taken
from the stored design and the study's settings, never written into the templates (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.models import Clip, Experiment, TrialTemplate, Version
from experiment.settings import DEFAULTS, StudySettings

DEFAULT_EXPECTED_MINUTES = DEFAULTS.expected_minutes
"""How long the study usually takes, when the study's `expected_minutes` setting is not given."""


@dataclass(frozen=True)
class StudyFacts:
    """The numbers the participant pages quote."""

    n_practice: int
    n_trials: int
    """Trials after the practice as the participant sees them: the scored ones plus any catch trials."""
    session_cap_s: float
    trial_limit_s: float
    expected_minutes: int
    clip_s: float
    headphone_trials: int
    simulated_eeg: bool = False
    """The manifest's data set is simulated: the clips come from simulated EEG, not from people's recordings."""

    @property
    def total(self) -> int:
        """Practice plus scored trials (the progress bar's length)."""
        return self.n_practice + self.n_trials

    @classmethod
    def of(cls, db: Session, experiment: Experiment) -> StudyFacts:
        """Read the counts from the first version's templates (the design makes every version the same size)."""
        settings = StudySettings.of(experiment)
        first = db.scalar(sa.select(Version.id).where(Version.experiment_id == experiment.id)
                          .order_by(Version.number).limit(1))
        counts = dict(db.execute(sa.select(TrialTemplate.practice, sa.func.count())
                                 .where(TrialTemplate.version_id == first).group_by(TrialTemplate.practice)).all())
        clip_s = db.scalar(sa.select(sa.func.max(Clip.duration_s)).where(
            Clip.experiment_id == experiment.id, Clip.role == "target")) or 5.0
        cap_s = float(settings.session_cap_s)
        expected = settings.expected_minutes
        expected = int(expected) if isinstance(expected, int | float) and expected > 0 else DEFAULT_EXPECTED_MINUTES
        catch = settings.catch_trials
        catch = catch if isinstance(catch, int) and not isinstance(catch, bool) and catch > 0 else 0
        return cls(n_practice=int(counts.get(True, 0)), n_trials=int(counts.get(False, 0)) + catch,
                   session_cap_s=cap_s, trial_limit_s=float(settings.trial_limit_s),
                   expected_minutes=min(expected, max(1, round(cap_s / 60))), clip_s=float(clip_s),
                   headphone_trials=int(settings.headphone_trials),
                   simulated_eeg=bool(((experiment.manifest_info or {}).get("dataset") or {}).get("simulated")))


def duration_text(seconds: float) -> str:
    """'30 minutes', '1 minute', '45 seconds', '90 seconds': how a page says a time limit."""
    seconds = float(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = round(seconds)
    return f"{whole} second{'s' if whole != 1 else ''}"


def seconds_text(seconds: float) -> str:
    """A clip length as '5-second' or '0.2-second'."""
    return f"{seconds:g}-second"
