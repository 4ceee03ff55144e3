"""Stage bookkeeping: which parameters decide each stage, whether its artefacts are there for exactly those, and
the record a finished stage leaves (`<stage>.done.json`). The stages themselves live in pipeline.py; evaluation
and the runner read this module, never the stages' internals.
"""

from __future__ import annotations

import json

from reconstruct.config import RunConfig, stage_hash
from reconstruct.decoders.registry import get_decoder
from reconstruct.models.cnn import MODEL_LAYOUT
from reconstruct.rundir import RunDir

SPLIT_VERSION = 2  # 1: a pattern per recording (leaked test targets through other recordings); 2: per song
SELECT_VERSION = 2  # 2: a second practice clip per song, the same-song foil of a mixed study's practice (issue 25)
STAGES = ("load", "features", "split", "train", "predict", "select", "render", "observe")


def stage_params(config: RunConfig, stage: str) -> dict:
    """The parameters that determine one stage's artefacts (and so those of every earlier stage)."""
    cfg = config.to_dict()
    upstream = {
        "load": ["dataset", "eeg_path", "audio_path", "simulation"],
        "features": ["input_kind", "target_kind", "ref_db"],
        "split": ["split_seed", "split_scope", "split_guard_s"],
        "train": ["decoder", "ridge_alpha", "train"],
        "predict": [],
        "select": ["select_seed", "songs"],
        "render": ["inversion"],
        "observe": [],
    }
    keys: list[str] = []
    for name in STAGES[: STAGES.index(stage) + 1]:
        keys += upstream[name]
    params = {k: cfg[k] for k in keys}
    if cfg["simulation"].get("meter") == "steady":  # absent where steady, so older runs stay valid
        params["simulation"] = {k: v for k, v in cfg["simulation"].items() if k != "meter"}
    if cfg["dataset"] in ("nmedt", "nmedh"):
        params["loader"] = cfg["loader"]  # how the files were read; absent elsewhere so older runs stay valid
    params |= _load_inputs(config, cfg)
    if "select_seed" in keys:
        params["select_version"] = SELECT_VERSION  # a selection without the second practice clips is redrawn
    if "split_seed" in keys:
        params["split_version"] = SPLIT_VERSION  # a split drawn by older (leaky) code is redrawn, not reused
    if "train" in keys:
        params["model_layout"] = MODEL_LAYOUT  # a model saved by older code is retrained, not mis-loaded
        field = get_decoder(cfg["decoder"]).settings_field if cfg["decoder"] != "auto" else None
        if field:  # only decoders with settings of their own, so older runs stay valid
            params[field] = cfg[field]
    return params


def is_done(config: RunConfig, stage: str) -> bool:
    """True when the stage's artefacts exist for exactly these parameters."""
    path = RunDir.of(config).stage_done(stage)
    return path.exists() and json.loads(path.read_text())["fingerprint"] == stage_hash(stage_params(config, stage))


def mark_done(config: RunConfig, stage: str, summary: dict, seconds: float) -> None:
    """Record that a stage finished, with what it made and how long it took."""
    path = RunDir.of(config).stage_done(stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stage": stage, "fingerprint": stage_hash(stage_params(config, stage)),
                                "params": stage_params(config, stage), "seconds": round(seconds, 2),
                                "summary": summary}, indent=2, default=str))


def read_summary(config: RunConfig, stage: str) -> dict:
    """The summary a finished stage recorded."""
    return RunDir.of(config).summary(stage)


def _load_inputs(config: RunConfig, cfg: dict) -> dict:
    """What else decides the load stage on real data: the folder's options and files, and the leak guard."""
    if cfg["dataset"] == "simulated":
        return {}
    from reconstruct.datasets.leak_guard import GUARD_VERSION
    extra: dict = {"leak_guard": GUARD_VERSION}
    if cfg["allow_stimulus_like"]:
        extra["allow_stimulus_like"] = cfg["allow_stimulus_like"]
    if cfg["dataset"] == "folder":
        from reconstruct.datasets.folder import input_fingerprint
        extra["folder"] = cfg["folder"]
        extra["inputs"] = input_fingerprint(config.eeg_path, config.audio_path)  # an edited CSV or file reloads
    return extra
