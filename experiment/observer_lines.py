"""The observer lines stored with a study (issue 25): per foil kind, what the as-heard ideal observer scores
on the study's trials and over every admissible pair of its clips, and what identity alone scores.

They are computed offline from the run that made the clips (`reconstruct.evaluation.observer.foil_kind_lines`;
`tuneback demo` does it for its study) and stored in `experiment.observer_lines`, so the admin report and
`tuneback analyze` can set the listeners' accuracy per kind beside them. experiment/ never computes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from experiment.db import make_engine, session_factory
from experiment.errors import ExperimentError
from experiment.models import Experiment

KINDS = ("different-song", "same-song")
LINES = ("study_trials", "every_pair", "identity_study_trials", "identity_every_pair")


def check_lines(lines: object) -> dict:
    """Refuse lines that are not per-kind observer results (a clear message, never a half-stored figure)."""
    if not isinstance(lines, dict) or not isinstance(lines.get("kinds"), dict) or not lines["kinds"]:
        raise ExperimentError("observer lines must be an object with 'kinds': {kind: {line: result}}")
    for kind, by_line in lines["kinds"].items():
        if kind not in KINDS or not isinstance(by_line, dict):
            raise ExperimentError(f"observer lines: kind {kind!r} is not one of {', '.join(KINDS)}")
        for name, result in by_line.items():
            if name not in LINES:
                raise ExperimentError(f"observer lines: {kind}: {name!r} is not one of {', '.join(LINES)}")
            if not isinstance(result, dict) or not {"n", "correct", "accuracy"} <= set(result):
                raise ExperimentError(f"observer lines: {kind} {name} needs n, correct and accuracy")
    return lines


def store_observer_lines(url: str, study: int, lines: dict) -> None:
    """Store (replace) a study's observer lines."""
    check_lines(lines)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            experiment = db.get(Experiment, study)
            if experiment is None:
                raise ExperimentError(f"study {study} does not exist")
            experiment.observer_lines = json.loads(json.dumps(lines, default=float))
            db.commit()
    finally:
        engine.dispose()


def store_from_file(url: str, study: int, path: str | Path) -> dict:
    """Store lines read from a JSON file (what `foil_kind_lines` returns); return them."""
    try:
        lines = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"cannot read observer lines from {path}: {exc}") from None
    store_observer_lines(url, study, lines)
    return lines


def kind_accuracy_rows(db: sa.orm.Session, experiment: Experiment) -> list[dict]:
    """Per foil kind: listeners' scored answers (valid sessions, no practice or catch trials) beside the lines."""
    from experiment.models import Clip, ParticipantSession as Session, Presentation, TrialTemplate
    from sqlalchemy.orm import aliased

    m, f = aliased(Clip), aliased(Clip)
    query = (sa.select(m.song, f.song, Presentation.correct).select_from(Presentation)
             .join(Session, Presentation.session_id == Session.id)
             .join(TrialTemplate, Presentation.template_id == TrialTemplate.id)
             .join(m, TrialTemplate.match_clip_id == m.id).join(f, TrialTemplate.foil_clip_id == f.id)
             .where(Session.experiment_id == experiment.id, Presentation.practice.is_(False),
                    Presentation.catch.is_(False), Session.withdrawn.is_(False), Session.preview.is_(False),
                    Presentation.answered_utc.is_not(None)))
    counts: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    for match_song, foil_song, correct in db.execute(query):
        kind = KINDS[1] if match_song == foil_song else KINDS[0]
        counts[kind][0] += int(bool(correct))
        counts[kind][1] += 1
    stored = (experiment.observer_lines or {}).get("kinds", {})
    rows = []
    for kind in KINDS:
        correct, n = counts[kind]
        if not n and kind not in stored:
            continue
        lines = stored.get(kind, {})
        rows.append({"kind": kind, "correct": correct, "n": n, "accuracy": correct / n if n else None,
                     **{name: lines.get(name) for name in LINES}})
    return rows
