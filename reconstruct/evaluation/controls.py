"""Negative controls on the same pipeline and the same split.

* **Noise only** (``noise_only``): the simulated set regenerated at SNR 0 (same songs, heads, seeds,
  recordings table and split); there is no stimulus in the EEG. Must be at chance.
* **Chunks shuffled** (``shuffled_chunks``): the main run's EEG, split and labels, but each participant's 5-s
  chunks (every recording's, where each participant heard one song) are handed around by a random permutation
  within their split role (training chunks among training chunks, test among test), so a recording of song s
  holds, chunk by chunk, EEG heard during random songs at random times. The EEG is still real EEG with all its
  structure; only its pairing with the music is broken, and no test chunk's EEG becomes a training input (with
  one pattern per song, shuffling by chunk position would feed one song's test-time EEG to another song's
  training). Must be at chance.
* **Recordings shuffled across songs** (``shuffled_songs``): each recording trained and tested against
  another song's targets, deranged within every participant (no recording keeps its song; each song
  still appears once per participant). A leak that lets a decoder tell recordings apart (a recording's
  noise fingerprint, drifts shared by neighbouring chunks) would carry these labels as well as the true
  ones. But it is NOT a null for a decoder that learns within participants (the paper's design): a
  recording is one (participant, song) pair, so a decoder that recognises the song from the EEG and
  the participant from the head can learn "participant p, song A → song B" from the stimulus itself.
  On the simulated set it is above chance for exactly that reason (at SNR 0 it is at chance), so the
  report shows it as a diagnostic and leaves it out of the at-chance verdict.
* **Time-misaligned** (``time_scrambled``): every chunk of every recording paired with the EEG heard at
  another time of the same song, by one seeded permutation of chunk times per song (shared by all its
  recordings, so a split that leaks a test target through another recording still leaks here; no chunk
  keeps its own time or a neighbour's), then the full pipeline retrained. Song identity survives, timing
  does not: it must be at chance on the time-specific measures (same-song observer, top-k span
  identification) while the different-song observer and the song-mean baseline stay high.
* **Circularly shifted** (``time_shifted``, a diagnostic): every recording's EEG shifted circularly by one
  seeded whole number of chunks. NOT a null for periodic music: with a steady tempo and a repeating chord
  progression (the simulated songs, most pop songs) the music ``shift`` seconds later is a fixed function
  of the music now, which a decoder learns like any other mapping (on the demo's EEG a ridge decoder
  keeps most of its same-song score under the shift, and loses it under the scramble). Reported beside
  the scramble, left out of the at-chance verdict.

Each control is shown to *fail* (score above chance) on a deliberately leaky pipeline in the tests: a
control that cannot fail proves nothing.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.runs import derived_config, link_stage
from reconstruct.stages import is_done
from reconstruct.split import CHUNK_S, USED_S
from reconstruct.rundir import RunDir

if TYPE_CHECKING:
    from reconstruct.simulate import SimulatedDataConfig


def noise_only_config(base: RunConfig, *, decoder: str | None = None) -> RunConfig:
    """The SNR-0 twin of a simulated run (its own load: the EEG is regenerated without the songs)."""
    if base.dataset != "simulated":
        raise ReconstructError("the noise-only control needs the simulated data set (real EEG always has the "
                               "stimulus in it); the shuffled control works on any data set")
    decoder = decoder or base.decoder
    return derived_config(base, f"noise-only-{decoder}", simulation=_with_snr(base.simulation, 0.0),
                          decoder=decoder)


def _with_snr(simulation: SimulatedDataConfig, snr: float) -> SimulatedDataConfig:
    from dataclasses import replace
    return replace(simulation, snr=snr)


def _shuffle_groups(table: list[tuple[str, str]]) -> list[list[int]]:
    """Recording indices grouped by participant when every participant heard >= 2 songs, else one group
    of all recordings (the NMED-H design: within a participant there is nothing to shuffle songs with)."""
    by_participant: dict[str, list[int]] = {}
    for i, (p, _) in enumerate(table):
        by_participant.setdefault(p, []).append(i)
    groups = list(by_participant.values())
    return groups if all(len({table[i][1] for i in g}) >= 2 for g in groups) else [list(range(len(table)))]


def derange_songs(table: list[tuple[str, str]], *, seed: int) -> list[str]:
    """A new song per recording, never its own: deranged within each participant when every participant
    heard >= 2 different songs, else across all recordings (song counts kept either way).

    Parameters
    ----------
    table : list of (participant, song), one per recording
    """
    rng = np.random.default_rng(seed)
    new = [s for _, s in table]
    for group in _shuffle_groups(table):
        songs = [table[i][1] for i in group]
        for _ in range(1_000):
            order = rng.permutation(len(group))
            if all(songs[o] != s for o, s in zip(order, songs)):
                break
        else:  # e.g. 48 recordings of 4 songs: a random permutation keeps no song with odds of ~(3/4)^48
            order = _rotated(songs, rng)
        for i, o in zip(group, order):
            new[i] = songs[o]
    return new


def _rotated(songs: list[str], rng: np.random.Generator) -> np.ndarray:
    """A derangement of a multiset: positions in random order sorted by song, each taking the song of the
    position m further on (m = the largest song count; works whenever m <= n/2)."""
    n = len(songs)
    m = max(songs.count(s) for s in set(songs))
    if 2 * m > n:
        raise ReconstructError(f"cannot derange songs {sorted(set(songs))} of {n} recordings: one song is on "
                               f"{m} of them, more than half")
    pos = sorted(rng.permutation(n), key=lambda i: songs[i])  # stable: random order within each song
    order = np.empty(n, dtype=np.int64)
    for k, i in enumerate(pos):
        order[i] = pos[(k + m) % n]
    return order


def shuffled_config(base: RunConfig, *, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """Build (or reuse) the shuffled-EEG sub-run's data: linked EEG, features and split, deranged songs."""
    decoder = decoder or base.decoder
    config = derived_config(base, f"shuffled-songs-{decoder}", decoder=decoder)
    for stage in ("load", "features", "split"):
        if not is_done(base, stage):
            raise ReconstructError(f"the main run has no {stage!r} stage yet")
    run = RunDir.of(config)
    data, info = run.data, run.shuffle_file
    table = RunDir.of(base).recordings()
    new_songs = derange_songs(table, seed=seed)
    wanted = {"seed": seed, "songs": new_songs}
    if not (is_done(config, "split") and info.exists() and json.loads(info.read_text()) == wanted):
        if data.is_symlink():
            data.unlink()
        elif data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        for src, dst in ((RunDir.of(base).eeg_file(), run.eeg_file()), (RunDir.of(base).songs_dir, run.songs_dir)):
            dst.symlink_to(src.resolve(), target_is_directory=src.is_dir())
        dataset = RunDir.of(base).dataset()
        dataset["control"] = "EEG shuffled across songs (each recording trained/tested on another song)"
        run.dataset_file.write_text(json.dumps(dataset, indent=2))
        with open(run.recordings_file(), "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["index", "participant", "song"])
            writer.writerows((i, p, s) for i, ((p, _), s) in enumerate(zip(table, new_songs)))
        # the done-marker of load is the main run's (same parameters); the artefacts are the ones above
        link_stage(base, config, "load", only=())
        link_stage(base, config, "features")
        link_stage(base, config, "split")
        _forget_training(config)
        info.write_text(json.dumps(wanted))
    return config


def chunk_permutation(table: list[tuple[str, str]], roles: np.ndarray, *, seed: int) -> np.ndarray:
    """Source (recording, chunk) of every (recording, chunk) [shape=(n_recordings, n_chunks, 2)]: a random
    permutation of each participant's chunks within each split role (of all recordings' chunks where a
    participant heard one song, as on NMED-H), so every source chunk is used once,
    a test chunk's EEG never becomes a training input, and a chunk rarely keeps its own song and time."""
    rng = np.random.default_rng(seed)
    n_rec, n_chunks = roles.shape
    source = np.stack(np.meshgrid(np.arange(n_rec), np.arange(n_chunks), indexing="ij"), axis=-1)
    for recs in _shuffle_groups(table):
        for role in np.unique(roles[recs]):
            slots = [(r, k) for r in recs for k in np.flatnonzero(roles[r] == role)]
            order = rng.permutation(len(slots))
            for (r, k), o in zip(slots, order):
                source[r, k] = slots[o]
    return source


def chunk_shuffled_config(base: RunConfig, *, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """Build (or reuse) the chunk-shuffled sub-run: same data, labels and split; inputs rearranged by chunk
    (each participant's chunks handed around within their split role)."""
    source = chunk_permutation(RunDir.of(base).recordings(), RunDir.of(base).split().chunk_roles, seed=seed)
    return rearranged_config(base, f"shuffled-chunks-{decoder or base.decoder}", source,
                             {"seed": seed, "source": source.tolist()}, decoder=decoder)


def time_shift_chunks(seed: int, n_chunks: int = USED_S // CHUNK_S) -> int:
    """The control's circular shift in whole chunks: seeded, never 0 or a whole turn."""
    return int(np.random.default_rng(seed).integers(1, n_chunks))


MIN_DISPLACEMENT = 2


def time_scramble(n_chunks: int, *, seed: int, min_displacement: int = MIN_DISPLACEMENT) -> np.ndarray:
    """A seeded permutation of chunk times moving every chunk at least `min_displacement` chunks (so none
    keeps its own time or a neighbour's, whose music and EEG lag run into it)."""
    if n_chunks < 2 * min_displacement + 1:
        raise ReconstructError(f"cannot scramble {n_chunks} chunks by >= {min_displacement} each")
    rng = np.random.default_rng(seed)
    for _ in range(10_000):  # for 48 chunks about 1 draw in 20 qualifies
        order = rng.permutation(n_chunks)
        if np.all(np.abs(order - np.arange(n_chunks)) >= min_displacement):
            return order
    raise ReconstructError(f"no permutation of {n_chunks} chunks moving each >= {min_displacement} found")


def time_scrambled_config(base: RunConfig, *, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """Build (or reuse) the time-misaligned sub-run: chunk k of every recording of song s is paired with the
    same recording's EEG of chunk order_s[k], one seeded permutation per song (`time_scramble`)."""
    orders, source = per_song_times(base, lambda n_chunks, i: time_scramble(n_chunks, seed=seed + i))
    return rearranged_config(base, f"time-scrambled-{decoder or base.decoder}", source,
                             {"seed": seed, "orders": {s: o.tolist() for s, o in orders.items()}}, decoder=decoder)


def per_song_times(base: RunConfig, draw: Callable[[int, int], np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One order of chunk times per song, ``draw(n_chunks, song_number)``, and the `rearranged_config`
    source that gives every recording its song's order (its own EEG, other times)."""
    table = RunDir.of(base).recordings()
    n_chunks = RunDir.of(base).used_s() // CHUNK_S
    orders = {s: draw(n_chunks, i) for i, s in enumerate(sorted({s for _, s in table}))}
    source = np.stack([np.stack([np.full(n_chunks, r), orders[s]], axis=-1) for r, (_, s) in enumerate(table)])
    return orders, source


def time_shifted_config(base: RunConfig, *, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """Build (or reuse) the circularly shifted sub-run (a diagnostic): every recording's EEG shifted by the
    same whole number of chunks, so chunk k's target is paired with the EEG heard during chunk k + shift.

    A constant offset keeps the periodic part of the music predictable (same tempo, same chord cycle), so
    unlike `time_scrambled_config` this is not a null; it shows how much of a same-song figure the music's
    own regularity could carry."""
    shift = time_shift_chunks(seed)
    _, source = per_song_times(base, lambda n_chunks, _: (np.arange(n_chunks) + shift) % n_chunks)
    return rearranged_config(base, f"time-shifted-{decoder or base.decoder}", source,
                             {"seed": seed, "shift_chunks": shift}, decoder=decoder)


def rearranged_config(base: RunConfig, name: str, source: np.ndarray, info_data: dict, *,
                      decoder: str | None) -> RunConfig:
    """A sub-run with the main run's data, labels and split whose input chunk (rec, k) is the main run's
    chunk source[rec, k] = (rec', k').

    Every feature is one second of EEG and chunks are whole seconds, so rearranging the feature rows
    chunk by chunk is the same as featurising EEG rearranged chunk by chunk (data/eeg.npy stays the
    original; the sub-run's rearrangement.json says where each chunk came from)."""
    decoder = decoder or base.decoder
    config = derived_config(base, name, decoder=decoder)
    for stage in ("load", "features", "split"):
        if not is_done(base, stage):
            raise ReconstructError(f"the main run has no {stage!r} stage yet")
    info = RunDir.of(config).rearrangement_file
    wanted = {**info_data, "split": RunDir.of(base).stage_record("split")["fingerprint"]}
    if is_done(config, "split") and info.exists() and json.loads(info.read_text()) == wanted:
        return config
    link_stage(base, config, "load")
    feats = RunDir.of(config).features
    if feats.is_symlink():
        feats.unlink()
    elif feats.exists():
        shutil.rmtree(feats)
    feats.mkdir(parents=True)
    RunDir.of(config).targets_file.symlink_to(RunDir.of(base).targets_file.resolve())
    inputs = RunDir.of(base).inputs()
    out = np.lib.format.open_memmap(RunDir.of(config).inputs_file, mode="w+", dtype=inputs.dtype,
                                    shape=inputs.shape)
    used = RunDir.of(base).used_s()
    for rec in range(source.shape[0]):
        for k in range(source.shape[1]):
            dst = rec * used + k * CHUNK_S
            src = source[rec, k, 0] * used + source[rec, k, 1] * CHUNK_S
            out[dst:dst + CHUNK_S] = inputs[src:src + CHUNK_S]
    out.flush()
    del out
    shutil.copyfile(RunDir.of(base).stage_done("features"), RunDir.of(config).stage_done("features"))
    link_stage(base, config, "split")
    _forget_training(config)
    info.write_text(json.dumps(wanted))
    return config


def _forget_training(config: RunConfig) -> None:
    for stale in ("train", "predict"):
        RunDir.of(config).stage_done(stale).unlink(missing_ok=True)
    model = RunDir.of(config).model
    if model.exists():
        shutil.rmtree(model)
