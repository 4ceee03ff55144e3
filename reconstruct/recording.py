"""The one shape every data set is loaded into, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EEG_FS = 125
AUDIO_SR = 22050


@dataclass(frozen=True)
class Recording:
    """One participant listening to one song: EEG float32 [shape=(channels, samples)] at `fs` Hz."""

    eeg: np.ndarray
    fs: float
    participant: str
    song: str
    presentation: str = ""  # which hearing of the song, when a data set has several ("a", "b" in NMED-H)

    @property
    def duration_s(self) -> float:
        """Length of the EEG in seconds."""
        return self.eeg.shape[1] / self.fs


@dataclass
class Dataset:
    """Recordings plus the stimulus audio (mono float32 at `sr`) keyed by song id."""

    name: str
    simulated: bool
    recordings: list[Recording]
    audio: dict[str, np.ndarray]
    sr: int = AUDIO_SR
    meta: dict = field(default_factory=dict)
    held_out: list[Recording] = field(default_factory=list)  # loaded but kept out of training (a test presentation)

    @property
    def songs(self) -> list[str]:
        """Song ids in a stable order."""
        return sorted({r.song for r in self.recordings})

    @property
    def participants(self) -> list[str]:
        """Participant ids in a stable order."""
        return sorted({r.participant for r in self.recordings})


def one_song_per_participant(table: list[tuple[str, str]]) -> bool:
    """True on the NMED-H design: every participant heard exactly one song (so identity names the song)."""
    songs_of: dict[str, set[str]] = {}
    for participant, song in table:
        songs_of.setdefault(participant, set()).add(song)
    return all(len(songs) == 1 for songs in songs_of.values())
