"""The headphone check of a session: its sounds' seeds and answers, the study's screen and policy, the scoring."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from experiment.errors import Conflict
from experiment.models import Event, Experiment, ParticipantSession
from experiment.settings import HEADPHONE_SCREENS, StudySettings
from experiment.status import SessionStatus, Stage


def headphone_seed(s: ParticipantSession) -> int:
    """The seed of a session's headphone sounds (sessions made before migration 0003 had only one seed)."""
    return s.headphone_seed if s.headphone_seed is not None else s.seed


def headphone_answers(s: ParticipantSession, n_trials: int) -> list[int]:
    """Which interval (1-3) holds the Huggins pitch in each check trial, from the session's seed and attempt.

    A retry draws new intervals, so a second go cannot reuse what the first one revealed.
    """
    attempt = getattr(s, "headphone_attempts", None) or 0  # test helpers pass a bare namespace of seeds
    suffix = f":{attempt}" if attempt else ""  # the first attempt keeps the sounds of sessions made before 0004
    rng = random.Random(f"tuneback-headphone:{headphone_seed(s)}{suffix}")
    return [rng.randint(1, 3) for _ in range(n_trials)]


def headphone_sound_seed(s: ParticipantSession, k: int) -> int:
    """The noise seed of check sound k in the session's current attempt (a retry gets fresh noise)."""
    return headphone_seed(s) * 31 + k + 1000 * (getattr(s, "headphone_attempts", None) or 0)


def uses_antiphase(experiment: Experiment) -> bool:
    """Whether the study's headphone screen includes the antiphase test (Huggins pitch and antiphase, both passed)."""
    return StudySettings.of(experiment).headphone_screen == HEADPHONE_SCREENS[1]


def antiphase_answers(s: ParticipantSession, n_trials: int) -> list[int]:
    """Which tone (1-3) is the quietest in each antiphase trial (from the session's seed and attempt, apart from
    the Huggins answers)."""
    attempt = getattr(s, "headphone_attempts", None) or 0
    rng = random.Random(f"tuneback-antiphase:{headphone_seed(s)}:{attempt}")
    return [rng.randint(1, 3) for _ in range(n_trials)]


def antiphase_sound_seed(s: ParticipantSession, k: int) -> int:
    """The seed of antiphase sound k (where its antiphase tone falls) in the session's current attempt."""
    return headphone_seed(s) * 37 + 500 + k + 1000 * (getattr(s, "headphone_attempts", None) or 0)


@dataclass(frozen=True)
class HeadphonePolicy:
    """What a failed check does: end the session (screen-out, the default) and how many retries come first."""

    screen_out: bool = True
    retries: int = 0

    @classmethod
    def of(cls, experiment: Experiment) -> HeadphonePolicy:
        """Read the study's settings (studies made before issue 15 screen out, with no retry)."""
        s = StudySettings.of(experiment)
        retries = s.headphone_retries
        return cls(bool(s.headphone_screen_out),
                   max(0, min(1, retries)) if isinstance(retries, int) and not isinstance(retries, bool) else 0)


def submit_headphone(db: Session, s: ParticipantSession, responses: list[int], volume: float | None,
                     now: datetime, antiphase: list[int] | None = None) -> str:
    """Score the headphone check, store it (and the volume) and route on: 'passed', 'retry' or 'screened_out'.

    A fail ends the session as screened out (it never holds a quota place) unless the study allows a retry that
    is still unused, or the study does not screen out at all (then the fail is recorded and the session goes on).
    """
    settings = StudySettings.of(s.version.experiment)
    policy = HeadphonePolicy.of(s.version.experiment)
    n = settings.headphone_trials
    truth = headphone_answers(s, n)
    score = sum(int(a == b) for a, b in zip(responses, truth, strict=True))
    need = settings.headphone_pass
    scores = {"huggins": score}
    if settings.headphone_screen == HEADPHONE_SCREENS[1]:
        if antiphase is None or len(antiphase) != n:
            raise Conflict("antiphase_missing", f"answer all {n} questions of the second test too")
        scores["antiphase"] = sum(int(a == b) for a, b in zip(antiphase, antiphase_answers(s, n), strict=True))
    attempt = (s.headphone_attempts or 0) + 1
    s.headphone_score, s.headphone_trials, s.headphone_attempts = sum(scores.values()), n * len(scores), attempt
    s.headphone_passed = all(v >= need for v in scores.values())  # every test of the screen passed
    s.volume = volume
    db.add(Event(session_id=s.id, kind="headphone", created_utc=now,
                 detail={"score": score, "of": n, "passed": s.headphone_passed, "volume": volume,
                         "attempt": attempt, "scores": scores, "need_each": need}))
    if s.headphone_passed or not policy.screen_out:
        s.stage = Stage.INSTRUCTIONS.value
        return "passed" if s.headphone_passed else "failed_kept"
    if attempt <= policy.retries:
        db.add(Event(session_id=s.id, kind="headphone_retry", created_utc=now,
                     detail={"attempt": attempt, "retries": policy.retries}))
        return "retry"
    s.status = SessionStatus.SCREENED_OUT.value
    s.stage = Stage.DONE.value
    s.finished_utc = now
    db.add(Event(session_id=s.id, kind="screened_out", created_utc=now, detail={"attempts": attempt}))
    return "screened_out"
