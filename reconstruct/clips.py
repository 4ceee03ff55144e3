"""The study material: select the chunks, render reconstructions and targets as equal-loudness WAVs,
write manifest.json, and score the AB-X pairs with the ideal observer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from reconstruct.config import RunConfig
from tuneback_core import code_version as _code_version
from reconstruct.evaluation.fingerprint import fingerprint_control
from reconstruct.evaluation.time_specific import time_specific_evidence
from reconstruct.features import clip_log_mel
from reconstruct.invert import invert_batch
from reconstruct.loudness import normalize_clips
from reconstruct.evaluation.observer import foil_kind_lines, identity_clip_spectra, ideal_observer, units_to_db
from reconstruct.pipeline import chunk_prediction, load_split, recordings_table, song_audio, used_seconds
from reconstruct.stages import read_summary
from reconstruct.recording import AUDIO_SR
from reconstruct.rundir import RunDir
from reconstruct.select import Choice, default_pairs, select_clips
from reconstruct.split import CHUNK_S

CLIP_SAMPLES = CHUNK_S * AUDIO_SR
MANIFEST_SCHEMA = "tuneback.manifest/1"


def stage_select(config: RunConfig, *, progress: bool = True) -> dict:
    """Choose the 48 study chunks + 4 practice chunks and the observer's AB-X pairs."""
    choices = select_clips(recordings_table(config), load_split(config), seed=config.select_seed,
                           songs=list(config.songs) if config.songs else None)
    pairs = default_pairs(choices, seed=config.select_seed)
    out = {"choices": [c.to_dict() for c in choices], "pairs": pairs}
    RunDir.of(config).selection_file.write_text(json.dumps(out, indent=2))
    return {"n_reconstructions": sum(c.role == "reconstruction" for c in choices), "n_pairs": len(pairs)}


def load_selection(config: RunConfig) -> tuple[list[Choice], list[tuple[int, int]]]:
    """The saved selection."""
    data = RunDir.of(config).selection()
    choices = [Choice(**{k: v for k, v in c.items() if k != "onset_s"}) for c in data["choices"]]
    return choices, [tuple(p) for p in data["pairs"]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


code_version = _code_version  # the one recorder (tuneback_core.code_version), under the name callers use


def stage_render(config: RunConfig, *, progress: bool = True) -> dict:
    """Invert the chosen predictions (one batch), cut the matching targets, loudness-normalise all, write
    WAVs and manifest.json."""
    choices, _ = load_selection(config)
    refs = read_summary(config, "features")["ref_db"]
    predicted = np.stack([chunk_prediction(config, c.recording, c.chunk) for c in choices])
    with tqdm(total=2, desc="rendering clips", disable=not progress) as bar:
        recon = invert_batch(predicted, np.array([refs[c.song] for c in choices]), kind=config.target_kind,
                             length=CLIP_SAMPLES, config=config.inversion)
        bar.update(1)
        spans = sorted({(c.song, c.chunk, c.role == "practice_reconstruction") for c in choices})
        audio = {s: song_audio(config, s) for s in {s for s, _, _ in spans}}
        targets = np.stack([audio[s][k * CLIP_SAMPLES:(k + 1) * CLIP_SAMPLES] for s, k, _ in spans])
        clips, lufs = normalize_clips(np.concatenate([recon, targets]))
        bar.update(1)
    run = RunDir.of(config)
    out, used = run.clips, used_seconds(config)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    entries, target_ids = [], {}
    for j, (song, chunk, practice) in enumerate(spans):
        cid = f"{'q' if practice else 'x'}{j + 1:02d}"
        target_ids[(song, chunk, practice)] = cid
        entries.append(_entry(out, cid, clips[len(recon) + j], song=song, participant=None, chunk=chunk,
                              role="practice_target" if practice else "target", half=None, target=None,
                              used_s=used))
    for i, c in enumerate(choices):
        practice = c.role == "practice_reconstruction"
        cid = f"{'p' if practice else 'r'}{i + 1:02d}"
        entries.append(_entry(out, cid, clips[i], song=c.song, participant=c.participant, chunk=c.chunk,
                              role=c.role, half=c.half, target=target_ids[(c.song, c.chunk, practice)],
                              used_s=used))
    dataset = run.dataset()
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "dataset": {"name": dataset["name"], "simulated": dataset["simulated"],
                    "n_songs": len(dataset["songs"]), "n_participants": len(dataset["participants"]),
                    **({"snr": config.simulation.snr} if dataset["simulated"] else {})},
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code_version": code_version(),
        "seeds": {"dataset": config.simulation.seed if dataset["simulated"] else None,
                  "split": config.split_seed, "train": config.train.seed, "select": config.select_seed,
                  "griffin_lim": config.inversion.seed},
        "params": {**config.to_dict(), "ref_db_used": refs, "loudness_lufs": lufs,
                   "audio": {"sr": AUDIO_SR, "channels": 1, "subtype": "PCM_16", "samples": CLIP_SAMPLES}},
        "songs": sorted({c.song for c in choices}),
        "clips": sorted(entries, key=lambda e: e["id"]),
    }
    run.manifest_file.write_text(json.dumps(manifest, indent=2, default=str))
    return {"manifest": str(run.manifest_file), "n_clips": len(entries), "loudness_lufs": lufs}


def _entry(out: Path, cid: str, y: np.ndarray, *, song: str, participant: str | None, chunk: int, role: str,
           half: int | None, target: str | None, used_s: int) -> dict:
    from reconstruct.select import position_of
    path = out / "audio" / f"{cid}.wav"
    sf.write(path, y, AUDIO_SR, subtype="PCM_16")
    return {"id": cid, "file": f"audio/{cid}.wav", "sha256": _sha256(path), "song": song,
            "eeg_participant": participant, "position": position_of(chunk, used_s=used_s),
            "onset_s": float(chunk * CHUNK_S),
            "duration_s": float(CHUNK_S), "role": role, "half": half, "target": target}


def _target_units(config: RunConfig, choice: Choice) -> np.ndarray:
    """The true 5-s target [shape=(5 × 44, bins)] in [0, 1] of a chosen chunk."""
    run = RunDir.of(config)
    songs, targets = run.target_songs(), run.targets()
    first = choice.chunk * CHUNK_S
    return np.concatenate(np.asarray(targets[songs.index(choice.song), first:first + CHUNK_S]))


def stage_observe(config: RunConfig, *, progress: bool = True) -> dict:
    """Ideal observer on the 48 AB-X pairs: on the rendered audio (as heard) and on the predicted spectra."""
    run = RunDir.of(config)
    manifest = run.manifest()
    by_id = {c["id"]: c for c in manifest["clips"]}
    choices, pairs = load_selection(config)
    recon_ids = [f"{'p' if c.role == 'practice_reconstruction' else 'r'}{i + 1:02d}" for i, c in enumerate(choices)]
    audio_dir = run.clips
    mel = {cid: clip_log_mel(audio_dir / by_id[cid]["file"]) for cid in tqdm(
        list(by_id), desc="observer spectra", disable=not progress)}
    x_ids = [by_id[recon_ids[m]]["target"] for m, _ in pairs]
    as_heard = ([mel[x] for x in x_ids], [mel[recon_ids[m]] for m, _ in pairs], [mel[recon_ids[f]] for _, f in pairs])
    heard = ideal_observer(*as_heard, distance="correlation")
    predicted = {cid: chunk_prediction(config, c.recording, c.chunk) for cid, c in zip(recon_ids, choices)}
    truth = {cid: _target_units(config, c) for cid, c in zip(recon_ids, choices)}
    spectra = ideal_observer([units_to_db(truth[recon_ids[m]]) for m, _ in pairs],
                             [units_to_db(predicted[recon_ids[m]]) for m, _ in pairs],
                             [units_to_db(predicted[recon_ids[f]]) for _, f in pairs])
    heard["ssim"] = ideal_observer(*as_heard, distance="ssim")
    evidence = time_specific_evidence(config, seed=config.select_seed)
    identity = identity_clip_spectra(config, sorted({c["song"] for c in manifest["clips"]}))
    result = {"dataset": manifest["dataset"], "rendered_audio": heard, "predicted_spectra": spectra,
              "foil_kinds": foil_kind_lines(manifest["clips"], mel, identity, seed=config.select_seed),
              "all_test_chunks": evidence,
              "fingerprint": fingerprint_control(config, seed=config.select_seed, decoder=evidence["decoder"])}
    run.observer_file.write_text(json.dumps(result, indent=2))
    return result
