"""`--decoder auto`: train every candidate decoder and keep the one that scores best on *validation* chunks
by the time-specific measure; test chunks are never looked at.

Each candidate is an ordinary run dir under ``<run_dir>/decoders/<name>/`` (sharing the load, and the
features where the inputs agree) trained on training chunks with its own early stopping. Its predictions
of the **validation** chunks are scored with the same time-specific measures as the test set (the
same-song ideal observer, top-1 span identification among the song's validation spans); the choice is
the highest same-song accuracy, ties broken by top-1 and then by validation MSE. The chosen model is
linked into the main run, which then predicts its test chunks as usual; the paper CNN's test figures are
reported beside it (they are never used to choose).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import numpy as np

from reconstruct.config import RunConfig, default_input, stage_hash
from reconstruct.evaluation.runs import link_stage, share_upstream
from reconstruct.evaluation.time_specific import HeldOutChunks, score_spectra
from reconstruct.pipeline import example_targets, load_split, predict_indices, recordings_table
from reconstruct.stages import is_done, read_summary
from reconstruct.decoders.registry import decoder_names
from reconstruct.rundir import CHOICE_FILE, RunDir  # noqa: F401 - CHOICE_FILE: where the choice is kept
from reconstruct.split import CHUNK_S, VAL



def candidate_config(config: RunConfig, decoder: str) -> RunConfig:
    """The sub-run that trains one candidate decoder on the main run's data and split."""
    return config.with_(run_dir=RunDir.of(config).decoder_run(decoder), decoder=decoder,
                        input_kind=default_input(decoder))


def validation_chunks(config: RunConfig) -> HeldOutChunks:
    """The trained run's predictions of its whole validation chunks, with their true spans."""
    split = load_split(config)
    roles, used = split.example_roles(), split.used_s
    table = recordings_table(config)
    val = np.flatnonzero(roles == VAL)
    starts = np.array([s for s in val[val % CHUNK_S == 0] if np.all(roles[s:s + CHUNK_S] == VAL)], dtype=np.int64)
    idx = (starts[:, None] + np.arange(CHUNK_S)).ravel()
    pred = predict_indices(config, idx).reshape(len(starts), -1, *read_summary(config, "features")["target_shape"][1:])
    truth = example_targets(config, idx).reshape(pred.shape)
    rec = starts // used
    return HeldOutChunks(recording=rec, participant=np.array([table[r][0] for r in rec]),
                         song=np.array([table[r][1] for r in rec]), chunk=(starts % used) // CHUNK_S,
                         recon=pred, truth=truth)


def validation_scores(config: RunConfig, *, seed: int = 0) -> dict:
    """Same-song observer, top-k among the song's validation spans, and MSE on validation chunks."""
    chunks = validation_chunks(config)
    scores = score_spectra(chunks, chunks.recon, seed=seed)
    return {"n_val_chunks": len(chunks), "same_song": scores["same_song"]["accuracy"],
            "top1": scores["span_id"].get("top1", {}).get("accuracy", float("nan")),
            "top1_chance": scores["span_id"].get("top1", {}).get("chance"),
            "different_song": scores["different_song"]["accuracy"],
            "val_mse": float(np.mean((chunks.recon - chunks.truth) ** 2))}


def _rank_key(s: dict) -> tuple:
    top1 = s["top1"] if s["top1"] == s["top1"] else 0.0
    return (s["same_song"], top1, -s["val_mse"])


def choose_decoder(config: RunConfig, *, candidates: tuple[str, ...] | None = None, force: bool = False,
                   progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train each candidate (every registered decoder unless `candidates` names some), or reuse it, score it on
    validation chunks, and return the choice."""
    candidates = tuple(candidates or decoder_names())
    from reconstruct.run import run_all
    subs: list[RunConfig] = []
    scores = {}
    for decoder in candidates:
        sub = candidate_config(config, decoder)
        same_inputs = [s for s in subs if s.input_kind == sub.input_kind]
        if subs:
            share_upstream(same_inputs[0] if same_inputs else subs[0], sub)
        run_all(sub, until="train", force_from="train" if force else None, progress=progress, log=log)
        subs.append(sub)
        scores[decoder] = validation_scores(sub, seed=config.select_seed)
        s = scores[decoder]
        log(f"[choose] {decoder:9s} on {s['n_val_chunks']} validation chunks: same-song {s['same_song']:.1%}, "
            f"top-1 {s['top1']:.1%} (chance {s['top1_chance'] or float('nan'):.1%}), MSE {s['val_mse']:.4f}")
    chosen = max(candidates, key=lambda d: _rank_key(scores[d]))
    return {"chosen": chosen, "measure": "same-song observer on validation chunks (then top-1, then MSE)",
            "candidates": list(candidates), "validation": scores, "test_chunks_used": False}


def resolve_decoder(config: RunConfig, *, candidates: tuple[str, ...] | None = None, progress: bool = True,
                    log: Callable[[str], None] = print) -> tuple[RunConfig, dict | None]:
    """For ``decoder='auto'``: choose on validation, link the chosen model into the main run, and return the
    main run's configuration with that decoder (and its input); otherwise the configuration unchanged."""
    if config.decoder != "auto":
        return config, None
    path = RunDir.of(config).choice_file
    candidates = tuple(candidates or decoder_names())
    key = stage_hash({**config.to_dict(), "run_dir": None, "candidates": list(candidates)})
    saved = json.loads(path.read_text()) if path.exists() else None
    choice = saved if saved and saved.get("key") == key else {
        **choose_decoder(config, candidates=candidates, progress=progress, log=log), "key": key}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(choice, indent=2))
    chosen = config.with_(decoder=choice["chosen"], input_kind=default_input(choice["chosen"]))
    sub = candidate_config(config, choice["chosen"])
    share_upstream(sub, chosen)
    if not is_done(chosen, "train"):
        model = RunDir.of(chosen).model
        if model.is_symlink() or model.is_file():
            model.unlink()
        elif model.exists():
            shutil.rmtree(model)
        link_stage(sub, chosen, "train", only=("model",))
    log(f"[choose] decoder chosen on validation chunks: {choice['chosen']}")
    return chosen, choice


def reference_cnn(config: RunConfig, *, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """The paper CNN candidate's test figures (reported beside the chosen decoder, never used to choose)."""
    from reconstruct.evaluation.time_specific import time_specific_evidence
    from reconstruct.run import run_all
    sub = candidate_config(config.with_(decoder="auto"), "cnn")
    run_all(sub, until="predict", progress=progress, log=log)
    return time_specific_evidence(sub, seed=config.select_seed)
