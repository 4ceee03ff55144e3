"""The simulator's answer key, read from the study's database by the experimenter's CLI (never over HTTP).

It lives with the web app's tables, not in loadbot: the bot is a pure HTTP client and imports nothing of experiment.

With it, `--accuracy` is the share of right answers; the server itself never tells a browser which side is right.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from experiment.errors import ExperimentError
from experiment.session_rows import trial_key


def database_truth(url: str, experiment_id: int, name: str) -> Callable[[str], dict[str, str]]:
    """A lookup Prolific id → {trial key: correct side} of that id's session in the study (read-only).

    Refuses (ExperimentError) a database that does not hold study `experiment_id` under `name` (the server's name
    for it): another database would give every listener no truth, silently.
    """
    from experiment.db import make_engine
    from experiment.models import Experiment, ParticipantSession, Presentation

    engine = make_engine(url)

    def lookup(pid: str) -> dict[str, str]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(Presentation.practice, Presentation.order_index, Presentation.correct_side)
                                .join(ParticipantSession, Presentation.session_id == ParticipantSession.id)
                                .where(ParticipantSession.experiment_id == experiment_id,
                                       ParticipantSession.prolific_pid == pid)).all()
        return {trial_key(_Row(practice, index)): side for practice, index, side in rows}

    try:
        with engine.connect() as conn:
            found = conn.execute(sa.select(Experiment.name).where(Experiment.id == experiment_id)).scalar()
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise ExperimentError(f"cannot read the database at {url}: {str(exc).splitlines()[0]}") from exc
    if found != name:
        engine.dispose()
        raise ExperimentError(f"the database at {url} does not hold the server's study {experiment_id} ({name!r})")
    return lookup


class _Row:
    """What trial_key reads of a presentation."""

    def __init__(self, practice: bool, order_index: int) -> None:
        self.practice, self.order_index = practice, order_index
