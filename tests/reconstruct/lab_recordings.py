"""Files written the way labs record them, for the folder loader's tests: one continuous file per participant
holding several songs, scalp EEG beside EOG, an audio (StimTrak-like) aux channel and a trigger channel,
all stored as the formats store them (BrainVision and EDF keep no channel types), a marker at every song.

The EEG is noise only: nothing in it responds to the music. Only the aux channel carries the song."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mne
import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfiltfilt

SR = 22050
EEG = ("Fp1", "Fp2", "F3", "F4", "Fz", "C3", "C4", "Cz", "P3", "P4", "Pz", "O1")
LEAD_S, GAP_S, TAIL_S = 2.0, 3.0, 2.0
MARKER = "song onset"


@dataclass(frozen=True)
class Song:
    """A song's audio (mono at SR) and its slow loudness envelope (what an envelope aux channel records)."""

    name: str
    audio: np.ndarray
    envelope: np.ndarray  # at SR, in [0.05, 1]


def make_song(name: str, seconds: float, seed: int) -> Song:
    """Noise carried by a random slow (0.5-4 Hz) loudness envelope: its envelope is what decoders chase."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    slow = rng.standard_normal(int(seconds * 50) + 1)
    slow = sosfiltfilt(butter(2, 4 / 25, output="sos"), slow)
    env = np.interp(np.arange(n) / SR, np.arange(len(slow)) / 50, slow)
    env = 0.05 + 0.95 * (env - env.min()) / (env.max() - env.min())
    return Song(name, (0.3 * env * rng.standard_normal(n)).astype(np.float32), env.astype(np.float32))


def write_songs(folder: Path, songs: list[Song]) -> None:
    """Each song as audio/<name>.wav."""
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for song in songs:
        sf.write(folder / "audio" / f"{song.name}.wav", song.audio, SR, subtype="FLOAT")


def _at(x: np.ndarray, fs: float) -> np.ndarray:
    ratio = Fraction(int(fs), SR)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def continuous_raw(songs: list[Song], *, fs: float = 250.0, seed: int = 0, aux: str = "Audio",
                   aux_carries: str = "envelope", eeg: tuple[str, ...] = EEG, with_eog: bool = True,
                   with_trigger: bool = True, all_typed_eeg: bool = True) -> tuple[mne.io.RawArray, list[float]]:
    """One participant's session: every song in turn, a marker at each start, noise-only EEG and aux channels.

    `aux` names the channel that records the stimulus (its envelope or its waveform, `aux_carries`); with
    `all_typed_eeg` every channel is typed EEG, as BrainVision and EDF give them back. Returns the raw
    (volts) and each song's onset in seconds."""
    rng = np.random.default_rng(seed)
    onsets, t = [], LEAD_S
    for song in songs:
        onsets.append(t)
        t += len(song.audio) / SR + GAP_S
    n = int((t - GAP_S + TAIL_S) * fs)
    names, types, rows = list(eeg), ["eeg"] * len(eeg), [rng.standard_normal((len(eeg), n)) * 20e-6]
    if with_eog:
        names += ["VEOG", "HEOG"]
        types += ["eog", "eog"]
        rows.append(rng.standard_normal((2, n)) * 60e-6)
    if aux:
        stim = np.zeros(n)
        for song, onset in zip(songs, onsets):
            x = _at(song.envelope if aux_carries == "envelope" else song.audio, fs)
            i = int(round(onset * fs))
            stim[i:i + len(x)] = x[: n - i]
        names.append(aux)
        types.append("misc")
        rows.append(stim[None] * 500e-6 + rng.standard_normal((1, n)) * 5e-6)
    if with_trigger:
        trig = np.zeros(n)
        for onset in onsets:
            trig[int(round(onset * fs)):int(round(onset * fs)) + 5] = 1e-3
        names.append("Trigger")
        types.append("stim")
        rows.append(trig[None])
    info = mne.create_info(names, fs, ["eeg"] * len(names) if all_typed_eeg else types)
    raw = mne.io.RawArray(np.concatenate(rows), info, verbose="error")
    raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), [MARKER] * len(onsets)))
    return raw, onsets


def write_brainvision(raw: mne.io.BaseRaw, path: Path) -> Path:
    """BrainVision as a recorder writes it (every channel in µV, markers in the .vmrk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="brainvision", verbose="error", overwrite=True)
    return path


def write_edf(raw: mne.io.BaseRaw, path: Path, *, typed_labels: dict[str, str]) -> Path:
    """EDF+ with typed labels ("EOG VEOG", "MISC Audio"), the EDF convention for channel types."""
    path.parent.mkdir(parents=True, exist_ok=True)
    labelled = raw.copy().rename_channels({n: f"{typed_labels.get(n, 'EEG')} {n}" for n in raw.ch_names})
    labelled.set_channel_types({n: "eeg" for n in labelled.ch_names}, verbose="error")
    mne.export.export_raw(path, labelled, fmt="edf", verbose="error", overwrite=True)
    return path


def write_csv(folder: Path, lines: list[str]) -> Path:
    """recordings.csv from its lines (header first)."""
    (folder / "recordings.csv").write_text("\n".join(lines) + "\n")
    return folder
