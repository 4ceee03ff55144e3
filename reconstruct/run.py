"""Run the stages in order, skipping those whose artefacts already match the configuration."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from reconstruct.clips import stage_observe, stage_render, stage_select
from reconstruct.config import RunConfig
from reconstruct.distributed import World, barrier, joined
from reconstruct.errors import ReconstructError
from reconstruct.pipeline import stage_features, stage_load, stage_predict, stage_split, stage_train
from reconstruct.stages import STAGES, is_done, mark_done, read_summary
from reconstruct.train import pick_device
from reconstruct.rundir import RunDir

STAGE_FUNCS: dict[str, Callable[..., dict]] = {
    "load": stage_load, "features": stage_features, "split": stage_split, "train": stage_train,
    "predict": stage_predict, "select": stage_select, "render": stage_render, "observe": stage_observe,
}


RESUMABLE = {"train": ("model",)}
"""Artefacts a stage resumes from, cleared when the stage is forced to start over."""


def run_stage(config: RunConfig, stage: str, *, force: bool = False, progress: bool = True,
              log: Callable[[str], None] = print, world: World | None = None) -> dict:
    """Run one stage (its predecessors must be done), unless it is already done with these parameters.

    With a `world` of several ranks (torchrun), the CNN's train stage runs data-parallel; rank 0 alone logs
    and writes.
    """
    if stage not in STAGE_FUNCS:
        raise ReconstructError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    world = world or World()
    if world.distributed:
        check_distributable(config, stage)
        log = log if world.main else _silent
    for earlier in STAGES[: STAGES.index(stage)]:
        if not is_done(config, earlier):
            raise ReconstructError(f"stage {stage!r} needs {earlier!r} first (run `tuneback reconstruct "
                                   f"{earlier}` with the same options, or `tuneback reconstruct run`)")
    if is_done(config, stage) and not force:
        log(f"[{stage}] up to date, reusing {config.run_dir}")
        return read_summary(config, stage)
    if world.distributed:
        return _run_data_parallel(config, stage, force=force, progress=progress, log=log, world=world)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    for name in RESUMABLE.get(stage, ()) if force else ():
        shutil.rmtree(RunDir.of(config).path(name), ignore_errors=True)
    started = time.perf_counter()
    summary = STAGE_FUNCS[stage](config, progress=progress)
    mark_done(config, stage, summary, time.perf_counter() - started)
    log(f"[{stage}] done in {time.perf_counter() - started:.1f} s")
    return summary


def check_distributable(config: RunConfig, stage: str) -> None:
    """Refuse, in one line, what does not run under torchrun: every stage but the CNN's training."""
    if stage != "train" or config.decoder != "cnn":
        raise ReconstructError(f"only `tuneback reconstruct train` with the CNN decoder runs under torchrun "
                               f"(asked: stage {stage!r}, decoder {config.decoder!r}); run the other stages "
                               f"in one process")


def _silent(_message: str) -> None:
    pass


def _run_data_parallel(config: RunConfig, stage: str, *, force: bool, progress: bool,
                       log: Callable[[str], None], world: World) -> dict:
    """The stage on every rank in one process group; rank 0 clears and records, the others wait for it."""
    with joined(world, pick_device(config.train.device)):
        if world.main:
            config.run_dir.mkdir(parents=True, exist_ok=True)
            for name in RESUMABLE.get(stage, ()) if force else ():
                shutil.rmtree(RunDir.of(config).path(name), ignore_errors=True)
        barrier(world)
        started = time.perf_counter()
        summary = STAGE_FUNCS[stage](config, progress=progress, world=world)
        if world.main:
            mark_done(config, stage, summary, time.perf_counter() - started)
        barrier(world)
    log(f"[{stage}] done in {time.perf_counter() - started:.1f} s on {world.size} processes")
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
