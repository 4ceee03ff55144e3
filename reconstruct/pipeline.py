"""The reconstruction stages, each a function that writes its artefacts into the run dir and can resume.

load → features → split → train → predict → select → render (clips + manifest.json) → observe.
A stage whose `<stage>.done.json` records the same parameters is skipped; `force=True` redoes it.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from reconstruct import features as feat
from reconstruct.config import RunConfig
from reconstruct.distributed import World
from reconstruct.decoders.registry import get_decoder
from reconstruct.decoding import predict_seconds, training_data
from reconstruct.errors import ReconstructError
from reconstruct.recording import EEG_FS, Dataset, one_song_per_participant  # noqa: F401 - re-exported
from reconstruct.rundir import RunDir
from reconstruct.split import TEST, TRAIN, USED_S, VAL, Split, make_split, target_overlap

# ---- load -------------------------------------------------------------------------------------------

def load_dataset(config: RunConfig, *, progress: bool = True) -> Dataset:
    """Load the configured data set into the common shape."""
    if config.dataset == "simulated":
        from reconstruct.simulate import simulate_dataset
        return simulate_dataset(config.simulation, progress=progress)
    from reconstruct import datasets
    audio = config.audio_path or config.eeg_path
    if config.dataset == "nmedt":
        return datasets.load_nmedt(config.eeg_path, audio, progress=progress, **config.loader.kwargs("nmedt"))
    if config.dataset == "nmedh":
        if audio == config.eeg_path and not Path(audio).is_dir():
            raise ReconstructError(f"--eeg {audio} is not a folder: give the songs' folder with --audio DIR")
        return datasets.load_nmedh(config.eeg_path, audio, progress=progress, **config.loader.kwargs("nmedh"))
    return datasets.load_folder(config.eeg_path, options=config.folder, audio_dir=config.audio_path,
                                progress=progress)


def stage_load(config: RunConfig, *, progress: bool = True) -> dict:
    """Write the used length (`config.used_s`, 240 s unless `--length`; the common length with `--short common`)
    of every recording's EEG, the recordings table and the song audio; record the used length in dataset.json.

    A real data set first passes the stimulus-leak guard (:mod:`reconstruct.datasets.leak_guard`)."""
    ds = load_dataset(config, progress=progress)
    used_s = int(ds.meta.get("used_s") or config.used_s)
    n_samples = used_s * EEG_FS
    short = [r for r in ds.recordings + ds.held_out if r.eeg.shape[1] < n_samples]
    if short:
        raise ReconstructError(f"{len(short)} recordings are shorter than {used_s} s "
                               f"(e.g. {short[0].participant}/{short[0].song}: {short[0].duration_s:.1f} s)")
    for song, y in ds.audio.items():
        if len(y) < used_s * ds.sr:
            raise ReconstructError(f"audio of {song} is {len(y) / ds.sr:.1f} s, need {used_s} s")
    guard = None
    if not ds.simulated:  # the simulation has no aux channels; its music-driven EEG passes (test_stimulus_leak)
        from reconstruct.datasets.leak_guard import guard_dataset
        guard = guard_dataset(ds, n_samples=n_samples, allow=config.allow_stimulus_like)
    run = RunDir.of(config)
    run.songs_dir.mkdir(parents=True, exist_ok=True)
    channels = {r.eeg.shape[0] for r in ds.recordings}
    if len(channels) != 1:
        raise ReconstructError(f"recordings differ in channel count: {sorted(channels)}")
    eeg = np.lib.format.open_memmap(run.eeg_file(), mode="w+", dtype=np.float32,
                                    shape=(len(ds.recordings), channels.pop(), n_samples))
    for i, r in enumerate(ds.recordings):
        eeg[i] = r.eeg[:, :n_samples]
    eeg.flush()
    _write_recordings(run, ds.recordings)
    shutil.rmtree(run.data_dir(held_out=True), ignore_errors=True)  # never leave another run's held-out set behind
    if ds.held_out:  # a test presentation: saved beside, never in the arrays later stages train on
        _write_recordings(run, ds.held_out, held_out=True, eeg_too=n_samples)
    for song, y in ds.audio.items():
        sf.write(run.song_file(song), y, ds.sr, subtype="FLOAT")
    summary = {"name": ds.name, "simulated": ds.simulated, "n_recordings": len(ds.recordings),
               "n_held_out": len(ds.held_out), "songs": ds.songs, "participants": ds.participants, "meta": ds.meta}
    if used_s != USED_S:  # absent at the paper's 240 s, so the recorded summaries of older runs stay the same
        summary["used_s"] = used_s
    if guard is not None:
        summary["leak_guard"] = guard
    run.dataset_file.write_text(json.dumps(summary, indent=2, default=str))
    if progress and "channel_names" in ds.meta:
        for line in channel_report(ds.meta):
            tqdm.write(line)
    return summary


def channel_report(meta: dict) -> list[str]:
    """Human lines: the EEG channels every recording gives, and what each recording dropped and why."""
    names = meta["channel_names"]
    lines = [f"[load] {len(names)} EEG channels kept, in this order: {', '.join(names)}"]
    for label, rec in meta.get("recordings", {}).items():
        dropped = "; ".join(f"{n}: {why}" for n, why in rec["dropped"].items()) or "nothing"
        interp = f"; interpolated {', '.join(rec['interpolated'])}" if rec.get("interpolated") else ""
        lines.append(f"[load] {label}: {Path(rec['file']).name} at {rec['source_fs']:g} Hz from {rec['start_s']:g} s; "
                     f"dropped {dropped}{interp}")
    return lines


def _write_recordings(run: RunDir, recordings: list, *, held_out: bool = False, eeg_too: int = 0) -> None:
    """recordings.csv (index, participant, song, presentation), and with `eeg_too` samples the EEG as eeg.npy."""
    run.data_dir(held_out=held_out).mkdir(parents=True, exist_ok=True)
    if eeg_too:
        eeg = np.lib.format.open_memmap(run.eeg_file(held_out=held_out), mode="w+", dtype=np.float32,
                                        shape=(len(recordings), recordings[0].eeg.shape[0], eeg_too))
        for i, r in enumerate(recordings):
            eeg[i] = r.eeg[:, :eeg_too]
        eeg.flush()
    with open(run.recordings_file(held_out=held_out), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "participant", "song", "presentation"])
        writer.writerows((i, r.participant, r.song, r.presentation) for i, r in enumerate(recordings))


def recordings_table(config: RunConfig, *, held_out: bool = False) -> list[tuple[str, str]]:
    """(participant, song) per recording index (of the held-out presentation with `held_out`; [] if none)."""
    return RunDir.of(config).recordings(held_out=held_out)


def song_audio(config: RunConfig, song: str) -> np.ndarray:
    """The stimulus audio of one song, mono float32 at 22 050 Hz."""
    return RunDir.of(config).song_audio(song)


# ---- features ---------------------------------------------------------------------------------------

def stage_features(config: RunConfig, *, progress: bool = True) -> dict:
    """Per-second inputs for every recording and per-second targets for every song, in [0, 1]."""
    run = RunDir.of(config)
    eeg = run.eeg()
    table = recordings_table(config)
    songs = sorted({s for _, s in table})
    used = used_seconds(config)
    run.features.mkdir(parents=True, exist_ok=True)
    first = feat.eeg_input(np.asarray(eeg[0]), kind=config.input_kind, n_seconds=used)
    inputs = np.lib.format.open_memmap(run.inputs_file, mode="w+", dtype=np.float32,
                                       shape=(len(table) * used, *first.shape[1:]))
    for i in tqdm(range(len(table)), desc="EEG features", disable=not progress):
        inputs[i * used:(i + 1) * used] = feat.eeg_input(np.asarray(eeg[i]), kind=config.input_kind, n_seconds=used)
    inputs.flush()
    refs = _ref_db(config, songs)
    targets = np.stack([feat.audio_targets(song_audio(config, s), kind=config.target_kind, n_seconds=used,
                                           ref_db=refs[s]) for s in tqdm(songs, desc="audio targets",
                                                                        disable=not progress)])
    np.save(run.targets_file, targets)
    return {"songs": songs, "ref_db": refs, "input_shape": list(first.shape[1:]),
            "target_shape": list(targets.shape[2:]), "n_examples": len(table) * used}


def used_seconds(config: RunConfig) -> int:
    """The used length of every recording: the configured one (`config.used_s`), or with `--short common` the
    common length the load stage found and recorded (data/dataset.json)."""
    if config.dataset != "folder" or config.folder.short != "common":
        return config.used_s
    return int(RunDir.of(config).dataset().get("used_s", config.used_s))


def _ref_db(config: RunConfig, songs: list[str]) -> dict[str, float]:
    if config.ref_db is None:
        return {s: feat.auto_ref_db(song_audio(config, s), kind=config.target_kind) for s in songs}
    if len(config.ref_db) != len(songs):
        raise ReconstructError(f"ref_db has {len(config.ref_db)} values for {len(songs)} songs ({songs})")
    return dict(zip(songs, map(float, config.ref_db)))


def example_targets(config: RunConfig, indices: np.ndarray) -> np.ndarray:
    """Targets of flat example indices (recording-major, one per second)."""
    run = RunDir.of(config)
    table, songs, used = recordings_table(config), run.target_songs(), used_seconds(config)
    song_idx = np.array([songs.index(table[i // used][1]) for i in indices])
    return np.asarray(run.targets()[song_idx, indices % used])


# ---- split ------------------------------------------------------------------------------------------

def stage_split(config: RunConfig, *, progress: bool = True) -> dict:
    """Draw the chunk-level train/val/test split (one pattern per song), save it, and count any overlap."""
    songs = [s for _, s in recordings_table(config)]
    split = make_split(songs, seed=config.split_seed, scope=config.split_scope, guard_s=config.split_guard_s,
                       used_s=used_seconds(config))
    np.save(RunDir.of(config).split_file, split.chunk_roles)
    roles = split.chunk_roles
    return {"seed": split.seed, "test_every": split.test_every, "val_fraction": split.val_fraction,
            "scope": split.scope, "guard_s": split.guard_s,
            "chunks": {r: int((roles == r).sum()) for r in (TRAIN, VAL, TEST)},
            "overlap": target_overlap(split, songs)}


def load_split(config: RunConfig) -> Split:
    """The saved split."""
    return RunDir.of(config).split()


# ---- train / predict --------------------------------------------------------------------------------

def stage_train(config: RunConfig, *, progress: bool = True, world: World | None = None) -> dict:
    """Fit the decoder on training chunks, early-stopping on validation chunks (data-parallel over `world`)."""
    if config.decoder == "auto":
        raise ReconstructError("decoder 'auto' is chosen before training (reconstruct.decoder_choice.resolve_decoder); "
                               "use `tuneback reconstruct run --decoder auto`")
    decoder = get_decoder(config.decoder)
    split = load_split(config)
    inputs = RunDir.of(config).inputs()
    tr, va = split.indices(TRAIN), split.indices(VAL)
    data = training_data(decoder, config, inputs, tr, va, targets_of=lambda i: example_targets(config, i),
                         participants=[p for p, _ in recordings_table(config)], used_s=used_seconds(config),
                         model_dir=RunDir.of(config).model, progress=progress, world=world or World())
    return decoder.train(data)


def predict_indices(config: RunConfig, indices: np.ndarray) -> np.ndarray:
    """The trained decoder's 1-s predictions [shape=(n, frames, bins)] of flat example `indices` (sorted)."""
    decoder = get_decoder(config.decoder)
    model = decoder.load(RunDir.of(config).model, config)
    return predict_seconds(decoder, model, RunDir.of(config).inputs(), indices,
                           participants=[p for p, _ in recordings_table(config)], used_s=used_seconds(config))


def predict_examples(config: RunConfig, x: np.ndarray) -> np.ndarray:
    """Run the trained per-second decoder (cnn, ridge, ...) on raw inputs, clipped to [0, 1]."""
    decoder = get_decoder(config.decoder)
    if not decoder.per_second:
        raise ReconstructError(f"the {decoder.name} decoder reads whole segments, not single seconds")
    return decoder.predict(decoder.load(RunDir.of(config).model, config), x)


def stage_predict(config: RunConfig, *, progress: bool = True) -> dict:
    """Predict every test example; test chunks become 5-s spectrograms of five consecutive seconds."""
    split = load_split(config)
    te = split.indices(TEST)
    pred = predict_indices(config, te)
    run = RunDir.of(config)
    np.save(run.predictions_file, pred)
    np.save(run.predictions_index_file, te)
    mse = float(np.mean((pred - example_targets(config, te)) ** 2))
    return {"n_test_examples": len(te), "test_mse": mse}


def chunk_prediction(config: RunConfig, recording: int, chunk: int) -> np.ndarray:
    """The 5-s predicted spectrogram [shape=(5 × 44, bins)] of one test chunk."""
    return RunDir.of(config).chunk_prediction(recording, chunk)
