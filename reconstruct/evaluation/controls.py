"""Negative controls on the same pipeline and the same split; each must score at chance.

* **Noise only**: the simulated set regenerated at SNR 0 (same songs, same heads, same seeds, so the
  same recordings table and split), everything downstream unchanged. There is no stimulus in the EEG.
* **EEG shuffled across songs**: the main run's EEG, features and split, but each recording is trained
  and tested against another song's targets. Within every participant the songs are deranged (no
  recording keeps its own song, every song still appears once per participant), so the pairing of EEG to
  music is broken while every marginal of the data is kept. A leak that lets a decoder tell recordings
  apart (drifts shared by neighbouring chunks, a recording's noise fingerprint) would carry the
  shuffled labels as well as the true ones and show up as above-chance accuracy here.

  Caveat, stated in the report: each recording is one (participant, song) pair, so a decoder that could
  recognise both the participant and the song from one second of EEG could learn the remapping itself.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.runs import derived_config, link_stage
from reconstruct.pipeline import is_done, recordings_table


def noise_only_config(base: RunConfig, *, decoder: str | None = None) -> RunConfig:
    """The SNR-0 twin of a simulated run (its own load: the EEG is regenerated without the songs)."""
    if base.dataset != "simulated":
        raise ReconstructError("the noise-only control needs the simulated data set (real EEG always has the "
                               "stimulus in it); the shuffled control works on any data set")
    decoder = decoder or base.decoder
    return derived_config(base, f"noise-only-{decoder}", simulation=_with_snr(base.simulation, 0.0),
                          decoder=decoder)


def _with_snr(simulation, snr: float):
    from dataclasses import replace
    return replace(simulation, snr=snr)


def derange_songs(table: list[tuple[str, str]], *, seed: int) -> list[str]:
    """A new song per recording, never its own: deranged within each participant when every participant
    heard >= 2 different songs, else across all recordings (song counts kept either way).

    Parameters
    ----------
    table : list of (participant, song), one per recording
    """
    rng = np.random.default_rng(seed)
    by_participant: dict[str, list[int]] = {}
    for i, (p, _) in enumerate(table):
        by_participant.setdefault(p, []).append(i)
    groups = list(by_participant.values())
    if any(len({table[i][1] for i in g}) < 2 for g in groups):
        groups = [list(range(len(table)))]
    new = [s for _, s in table]
    for group in groups:
        songs = [table[i][1] for i in group]
        for _ in range(10_000):
            order = rng.permutation(len(group))
            if all(songs[o] != s for o, s in zip(order, songs)):
                break
        else:
            raise ReconstructError(f"cannot derange songs {sorted(set(songs))} of {len(group)} recordings")
        for i, o in zip(group, order):
            new[i] = songs[o]
    return new


def shuffled_config(base: RunConfig, *, seed: int = 0, decoder: str | None = None) -> RunConfig:
    """Build (or reuse) the shuffled-EEG sub-run's data: linked EEG, features and split, deranged songs."""
    decoder = decoder or base.decoder
    config = derived_config(base, f"shuffled-{decoder}", decoder=decoder)
    for stage in ("load", "features", "split"):
        if not is_done(base, stage):
            raise ReconstructError(f"the main run has no {stage!r} stage yet")
    data = Path(config.run_dir) / "data"
    info = data / "shuffle.json"
    table = recordings_table(base)
    new_songs = derange_songs(table, seed=seed)
    wanted = {"seed": seed, "songs": new_songs}
    if not (is_done(config, "split") and info.exists() and json.loads(info.read_text()) == wanted):
        if data.is_symlink():
            data.unlink()
        elif data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        for name in ("eeg.npy", "songs"):
            src = (Path(base.run_dir) / "data" / name).resolve()
            (data / name).symlink_to(src, target_is_directory=src.is_dir())
        dataset = json.loads((Path(base.run_dir) / "data" / "dataset.json").read_text())
        dataset["control"] = "EEG shuffled across songs (each recording trained/tested on another song)"
        (data / "dataset.json").write_text(json.dumps(dataset, indent=2))
        with open(data / "recordings.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["index", "participant", "song"])
            writer.writerows((i, p, s) for i, ((p, _), s) in enumerate(zip(table, new_songs)))
        # the done-marker of load is the main run's (same parameters); the artefacts are the ones above
        link_stage(base, config, "load", only=())
        link_stage(base, config, "features")
        link_stage(base, config, "split")
        for stale in ("train", "predict"):
            (Path(config.run_dir) / "stages" / f"{stale}.done.json").unlink(missing_ok=True)
        model = Path(config.run_dir) / "model"
        if model.exists():
            shutil.rmtree(model)
        info.write_text(json.dumps(wanted))
    return config
