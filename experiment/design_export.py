"""A study's scored AB-X trials as JSON: exactly what listeners get, for the offline ideal observer
(`tuneback reconstruct evaluate --trials FILE`)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from experiment.db import make_engine
from experiment.errors import ExperimentError
from experiment.models import Clip, Experiment, TrialTemplate, Version


def study_trials(url: str, study: int) -> dict:
    """{"study", "versions": [{"number", "trials": [{"target", "match", "foil"}]}]} in manifest clip ids,
    practice left out, in the order of each version's template."""
    x, m, f = aliased(Clip), aliased(Clip), aliased(Clip)
    query = (sa.select(Version.number, x.key, m.key, f.key).select_from(TrialTemplate)
             .join(Version, TrialTemplate.version_id == Version.id)
             .join(x, TrialTemplate.target_clip_id == x.id).join(m, TrialTemplate.match_clip_id == m.id)
             .join(f, TrialTemplate.foil_clip_id == f.id)
             .where(Version.experiment_id == study, TrialTemplate.practice.is_(False))
             .order_by(Version.number, TrialTemplate.index))
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(sa.select(Experiment.id).where(Experiment.id == study)).scalar() is None:
                raise ExperimentError(f"study {study} does not exist in {engine.url.render_as_string()}")
            rows = conn.execute(query).all()
    finally:
        engine.dispose()
    versions: dict[int, list[dict]] = {}
    for number, target, match, foil in rows:
        versions.setdefault(number, []).append({"target": target, "match": match, "foil": foil})
    return {"study": study, "versions": [{"number": n, "trials": t} for n, t in versions.items()]}


def triples(design: dict) -> list[tuple[str, str, str]]:
    """(X, match, foil) ids of every trial of every version."""
    return [(t["target"], t["match"], t["foil"]) for v in design["versions"] for t in v["trials"]]


def write_study_trials(url: str, study: int, path: Path) -> dict:
    """Write `study_trials` to a JSON file and return it."""
    design = study_trials(url, study)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(design, indent=1))
    return design
