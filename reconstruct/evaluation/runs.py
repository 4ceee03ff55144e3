"""Sub-runs that the evaluation trains beside the main run (baseline decoder, Table-2 pairs, controls).

Each lives in ``<run_dir>/evaluation/<name>/`` and is an ordinary run dir: the pipeline's own stages make
it, so it is "the same pipeline". Stages whose parameters equal the main run's (load, features, split)
are not redone: their artefacts are linked from the main run and their done-markers copied, so a
sub-run shares the very data and the very split of the run it is compared with.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from reconstruct.config import RunConfig
from reconstruct.stages import is_done, stage_params
from reconstruct.rundir import STAGE_ARTEFACTS, RunDir

SHARED_STAGES = ("load", "features", "split")
_ARTEFACTS = STAGE_ARTEFACTS


def evaluation_dir(config: RunConfig) -> Path:
    """Where a run's evaluation artefacts live."""
    return RunDir.of(config).evaluation


def derived_config(base: RunConfig, name: str, **changes) -> RunConfig:
    """A sub-run of `base` under its evaluation dir, with some parameters changed."""
    return base.with_(run_dir=evaluation_dir(base) / name, **changes)


def _marker(config: RunConfig, stage: str) -> Path:
    return RunDir.of(config).stage_done(stage)


def link_stage(base: RunConfig, derived: RunConfig, stage: str, *, only: tuple[str, ...] | None = None) -> None:
    """Make `derived` reuse `base`'s artefacts of one stage (symbolic links + the done-marker)."""
    for name in only if only is not None else _ARTEFACTS[stage]:
        src, dst = RunDir.of(base).path(name).resolve(), RunDir.of(derived).path(name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.is_file():
            dst.unlink()
        elif dst.is_dir():
            shutil.rmtree(dst)
        dst.symlink_to(src, target_is_directory=src.is_dir())
    _marker(derived, stage).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_marker(base, stage), _marker(derived, stage))


def share_upstream(base: RunConfig, derived: RunConfig) -> list[str]:
    """Link every leading stage of load/features/split whose parameters `derived` shares with `base`."""
    shared = []
    for stage in SHARED_STAGES:
        if stage_params(base, stage) != stage_params(derived, stage) or not is_done(base, stage):
            break
        if not is_done(derived, stage):
            link_stage(base, derived, stage)
        shared.append(stage)
    return shared


def ensure_predictions(config: RunConfig, *, base: RunConfig | None = None, progress: bool = False,
                       log: Callable[[str], None] = lambda _: None) -> RunConfig:
    """Run (or resume) a run up to its predictions, first sharing what it can with `base`."""
    from reconstruct.run import run_all
    if base is not None:
        share_upstream(base, config)
    run_all(config, until="predict", progress=progress, log=log)
    return config
