"""Create a study in the database from a manifest: clips, two versions, their trial templates."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.design import TrialSpec, VersionDesign, build_design
from experiment.errors import ExperimentError
from experiment.manifest import Manifest, load_manifest
from experiment.models import Clip, Experiment, TrialTemplate, Version, utcnow
from experiment.settings import NAMES, StudySettings
from experiment.status import DEFAULT_FOIL_POLICY, ExperimentState
from experiment.texts import TEXT_KEYS


def create_experiment(url: str, manifest_path: str | Path, *, quota: int = 8, seed: int = 0,
                      foil_policy: str = DEFAULT_FOIL_POLICY.value, open_: bool = True,
                      name: str | None = None, completion_code: str | None = None,
                      screened_out_code: str | None = None, settings: dict[str, Any] | None = None) -> int:
    """Migrate the database at `url`, import the manifest's clips, build both versions; return the study id."""
    from experiment.db import make_engine, session_factory, upgrade

    manifest = load_manifest(manifest_path)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            experiment = add_experiment(db, manifest, quota=quota, seed=seed, foil_policy=foil_policy,
                                        open_=open_, name=name, completion_code=completion_code,
                                        screened_out_code=screened_out_code, settings=settings)
            db.commit()
            return experiment.id
    finally:
        engine.dispose()


def add_experiment(db: Session, manifest: Manifest, *, quota: int = 8, seed: int = 0,
                   foil_policy: str = DEFAULT_FOIL_POLICY.value, open_: bool = True,
                   name: str | None = None, completion_code: str | None = None,
                   now: datetime | None = None, settings: dict[str, Any] | None = None,
                   screened_out_code: str | None = None) -> Experiment:
    """Add (not commit) a study built from a parsed manifest; the admin panel calls this too."""
    if quota < 0:
        raise ExperimentError(f"quota={quota} must be >= 0")
    design = build_design(manifest.clips, seed=seed, foil_policy=foil_policy)
    now = now or utcnow()
    code = _code(completion_code, "completion code")
    screen_code = _code(screened_out_code, "screened-out code")
    while screen_code == code:  # Prolific tells the two outcomes apart by their codes
        if screened_out_code:
            raise ExperimentError("the screened-out code must differ from the completion code")
        screen_code = _code(None, "screened-out code")
    checked = StudySettings.checked({**(settings or {}), "completion_code": code, "screened_out_code": screen_code})
    n_scored = min(len(v.trials) for v in design.versions)
    if checked.catch_trials > n_scored // 2:
        raise ExperimentError(f"catch_trials={checked.catch_trials} is more than half of the {n_scored} scored trials")
    dataset = (manifest.info.get("dataset") or {}).get("name", "study")
    experiment = Experiment(
        name=name or f"{dataset} ({manifest.path.parent.name})",
        state=ExperimentState.OPEN.value if open_ else ExperimentState.DRAFT.value,
        foil_policy=design.foil_policy, seed=seed,
        settings=checked.as_dict(),
        manifest_path=str(manifest.path), manifest_sha256=manifest.sha256, manifest_info=manifest.info,
        created_utc=now, opened_utc=now if open_ else None,
    )
    db.add(experiment)
    clips = {c.id: _clip_row(c) for c in manifest.clips}
    experiment.clips = list(clips.values())
    for v in design.versions:
        version = Version(number=v.number, quota=quota)
        version.templates = [_template_row(t, clips) for t in (*v.practice, *v.trials)]
        experiment.versions.append(version)
    db.flush()
    return experiment


def _code(given: str | None, what: str) -> str:
    """A Prolific code as given (1-32 letters and digits) or a random one."""
    code = given or secrets.token_hex(4).upper()
    if not code.isalnum() or not code.isascii() or len(code) > 32:
        raise ExperimentError(f"{what} {code!r} must be 1-32 letters and digits")
    return code


def _clip_row(c) -> Clip:  # noqa: ANN001 - ManifestClip
    """A manifest clip as a database row (the file stays where the manifest put it)."""
    return Clip(key=c.id, role=c.role, song=c.song, eeg_participant=c.eeg_participant, position=c.position,
                onset_s=c.onset_s, duration_s=c.duration_s, half=c.half, target_key=c.target,
                file_path=str(c.file), sha256=c.sha256 or "", size_bytes=c.file.stat().st_size)


def _template_row(t: TrialSpec, clips: dict[str, Clip]) -> TrialTemplate:
    """A design item as a database row."""
    return TrialTemplate(practice=t.practice, index=t.index, item=t.item, target_clip=clips[t.target],
                         match_clip=clips[t.match], foil_clip=clips[t.foil], correct_side=t.correct_side)


def version_design(db: Session, version: Version) -> VersionDesign:
    """Rebuild a version's design from its stored templates (what the session draw needs)."""
    specs = []
    for t in db.scalars(sa.select(TrialTemplate).where(TrialTemplate.version_id == version.id)):
        x, m, f = t.target_clip, t.match_clip, t.foil_clip
        specs.append(TrialSpec(
            item=t.item, version=version.number, practice=t.practice, index=t.index, song=x.song,
            position=x.position, target=x.key, match=m.key, foil=f.key, match_participant=m.eeg_participant,
            foil_song=f.song, foil_participant=f.eeg_participant, correct_side=t.correct_side,
        ))
    specs.sort(key=lambda s: s.index)
    practice = tuple(s for s in specs if s.practice)
    return VersionDesign(version.number, practice, tuple(s for s in specs if not s.practice))


def get_experiment(db: Session, experiment_id: int) -> Experiment:
    """The study with this id, or ExperimentError."""
    experiment = db.get(Experiment, experiment_id)
    if experiment is None:
        raise ExperimentError(f"no experiment with id {experiment_id}")
    return experiment


def set_state(db: Session, experiment: Experiment, state: str, now: datetime | None = None) -> None:
    """Open, close or re-draft a study (recording when); an archived study stays closed until unarchived."""
    state = ExperimentState(state).value
    if is_archived(experiment) and state != ExperimentState.CLOSED.value:
        raise ExperimentError(f"study {experiment.id} is archived: unarchive it before opening it again")
    now = now or utcnow()
    experiment.state = state
    if state == ExperimentState.OPEN.value:
        experiment.opened_utc = now
    elif state == ExperimentState.CLOSED.value:
        experiment.closed_utc = now


PER_STUDY_CODES = ("completion_code", "screened_out_code")


def is_archived(experiment: Experiment) -> bool:
    """Whether the study has been archived."""
    return experiment.archived_utc is not None


def archive(experiment: Experiment, now: datetime, *, undo: bool = False) -> None:
    """Archive a closed study (or, with `undo`, bring it back as closed); refuse one that is not closed."""
    if not undo and experiment.state != ExperimentState.CLOSED.value:
        raise ExperimentError(f"study {experiment.id} is {experiment.state}: close it before archiving it")
    experiment.archived_utc = None if undo else now


def clone_experiment(db: Session, source: Experiment, *, name: str | None = None, seed: int | None = None,
                     now: datetime | None = None, foil_policy: str | None = None) -> Experiment:
    """Add (not commit) a new draft study from the same manifest, settings, foil policy and quotas.

    The manifest must still be the one the source was built from (same sha256). The clone gets new Prolific
    codes (a new Prolific study needs its own) and the source's seed unless `seed` is given, its foil policy
    unless `foil_policy` is. The source's observer lines come along: all of them when the design is the same
    (same seed and policy), else only those over every pair of the clips (the study-trial lines would be stale).
    """
    try:
        manifest = load_manifest(source.manifest_path)
    except ExperimentError as exc:
        raise ExperimentError(f"study {source.id} cannot be cloned: its manifest cannot be read ({exc})") from exc
    if manifest.sha256 != source.manifest_sha256:
        raise ExperimentError(f"study {source.id} cannot be cloned: {source.manifest_path} has changed since the "
                              "study was built from it")
    settings = {k: v for k, v in (source.settings or {}).items() if k in NAMES and k not in PER_STUDY_CODES}
    clone = add_experiment(db, manifest, quota=0, seed=source.seed if seed is None else seed,
                           foil_policy=foil_policy or source.foil_policy, open_=False,
                           name=name or f"Copy of {source.name}"[:200], now=now, settings=settings)
    clone.observer_lines = _cloned_lines(source, clone)
    quotas = {v.number: v.quota for v in source.versions}
    for v in clone.versions:
        v.quota = quotas.get(v.number, 0)
    db.flush()
    return clone

def _cloned_lines(source: Experiment, clone: Experiment) -> dict[str, Any] | None:
    """The source's observer lines that still hold for the clone's design."""
    lines = source.observer_lines
    if not lines:
        return None
    if clone.seed == source.seed and clone.foil_policy == source.foil_policy:
        return dict(lines)
    kinds = {k: {n: v for n, v in by_line.items() if not n.endswith("study_trials")}
             for k, by_line in (lines.get("kinds") or {}).items()}
    return {**lines, "kinds": {k: v for k, v in kinds.items() if v}}


def configure(db: Session, experiment: Experiment, changes: dict[str, Any]) -> dict[str, Any]:
    """Change an existing study's participant text and language (TEXT_KEYS); return the settings changed.

    Only what the participant reads may change once a study exists: its design, limits and codes stay as recorded.
    """
    unknown = sorted(set(changes) - set(TEXT_KEYS))
    if unknown:
        raise ExperimentError(f"cannot change {', '.join(unknown)} of an existing study (only {', '.join(TEXT_KEYS)})")
    clean = StudySettings.checked_changes(changes)  # an empty text goes back to the page's default
    settings = dict(experiment.settings or {})
    changed = {k: v for k, v in clean.items() if settings.get(k) != v}
    settings.update(changed)
    experiment.settings = settings  # a new dict: SQLAlchemy sees the JSON change
    return changed


def configure_study(url: str, experiment_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Open the database at `url`, `configure` one study and commit (the CLI's `configure` verb)."""
    from experiment.db import make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            changed = configure(db, get_experiment(db, experiment_id), changes)
            db.commit()
            return changed
    finally:
        engine.dispose()
