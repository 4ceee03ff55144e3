"""Run the stages in order, skipping those whose artefacts already match the configuration."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from reconstruct.clips import stage_observe, stage_render, stage_select
from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.pipeline import (STAGES, is_done, mark_done, read_summary, stage_features, stage_load,
                                  stage_predict, stage_split, stage_train)

STAGE_FUNCS: dict[str, Callable[..., dict]] = {
    "load": stage_load, "features": stage_features, "split": stage_split, "train": stage_train,
    "predict": stage_predict, "select": stage_select, "render": stage_render, "observe": stage_observe,
}


RESUMABLE = {"train": ("model",)}
"""Artefacts a stage resumes from, cleared when the stage is forced to start over."""


def run_stage(config: RunConfig, stage: str, *, force: bool = False, progress: bool = True,
              log: Callable[[str], None] = print) -> dict:
    """Run one stage (its predecessors must be done), unless it is already done with these parameters."""
    if stage not in STAGE_FUNCS:
        raise ReconstructError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    for earlier in STAGES[: STAGES.index(stage)]:
        if not is_done(config, earlier):
            raise ReconstructError(f"stage {stage!r} needs {earlier!r} first (run `tuneback reconstruct "
                                   f"{earlier}` with the same options, or `tuneback reconstruct run`)")
    if is_done(config, stage) and not force:
        log(f"[{stage}] up to date, reusing {config.run_dir}")
        return read_summary(config, stage)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    for name in RESUMABLE.get(stage, ()) if force else ():
        shutil.rmtree(config.run_dir / name, ignore_errors=True)
    started = time.perf_counter()
    summary = STAGE_FUNCS[stage](config, progress=progress)
    mark_done(config, stage, summary, time.perf_counter() - started)
    log(f"[{stage}] done in {time.perf_counter() - started:.1f} s")
    return summary


def run_all(config: RunConfig, *, until: str = "observe", force_from: str | None = None, progress: bool = True,
            log: Callable[[str], None] = print) -> dict[str, dict]:
    """Run every stage up to `until`; with `force_from`, redo that stage and everything after it."""
    results = {}
    forcing = False
    for stage in STAGES[: STAGES.index(until) + 1]:
        forcing = forcing or stage == force_from
        results[stage] = run_stage(config, stage, force=forcing, progress=progress, log=log)
    return results
