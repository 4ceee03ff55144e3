"""Loader options for the published data sets, as one frozen config the CLI builds and the pipeline passes on.

Every field defaults to None or the published layout, meaning "the data set's own default", so a run
that sets nothing reads the files exactly as NMED-T and NMED-H publish them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from reconstruct.datasets.common import song_number
from reconstruct.datasets.channels import ChannelOptions
from reconstruct.errors import ParameterError

AXIS_ORDER = "channels,samples,participants"
_NMEDH_ONLY = ("condition", "presentations")


@dataclass(frozen=True)
class LoaderConfig:
    """How to read NMED-T / NMED-H files: names, keys, axis order, condition, presentations, audio alignment."""

    condition: str = "orig"
    presentations: str = "holdout-b"
    songs: tuple[int, ...] | None = None
    file_pattern: str | None = None
    data_key: str | None = None
    fs_key: str | None = None
    participants_key: str | None = None
    axis_order: str = AXIS_ORDER
    audio_offsets: tuple[tuple[int, float], ...] | None = None
    audio_files: tuple[tuple[int, str], ...] = ()

    def kwargs(self, dataset: str) -> dict:
        """Keyword arguments for ``load_nmedt`` / ``load_nmedh``, refusing options that data set has not got."""
        if dataset not in ("nmedt", "nmedh"):
            changed = [f.name for f in fields(self) if getattr(self, f.name) != f.default]
            if changed:
                raise ParameterError(f"loader options {changed} apply to --dataset nmedt/nmedh, not {dataset!r}")
            return {}
        if dataset == "nmedt":
            wrong = [name for name in _NMEDH_ONLY if getattr(self, name) != getattr(LoaderConfig, name)]
            if wrong:
                raise ParameterError(f"{', '.join('--' + w for w in wrong)} apply to --dataset nmedh only")
        out: dict = {"axis_order": self.axis_order, "audio_files": dict(self.audio_files)}
        if dataset == "nmedh":
            out |= {"condition": self.condition, "presentations": self.presentations}
        if self.songs is not None:
            out["songs"] = list(self.songs)
        for name in ("file_pattern", "data_key", "fs_key", "participants_key"):
            value = getattr(self, name)
            if value is not None:
                out[name] = None if value.lower() == "none" and name != "file_pattern" else value
        if self.audio_offsets is not None:
            out["audio_offsets"] = dict(self.audio_offsets)
        return out


SHORT = ("refuse", "common")
DEFAULT_LENGTH_S = 240  # the paper's 4 minutes (reconstruct.split.USED_S)
MIN_LENGTH_S = 20  # four 5-s chunks: the least that still gives one test chunk per song


@dataclass(frozen=True)
class FolderOptions:
    """How to read a bring-your-own folder: which channels, how bad ones are treated, how much of each recording."""

    channels: ChannelOptions = field(default_factory=ChannelOptions)
    length_s: int | None = DEFAULT_LENGTH_S  # None (library use): each recording whole, to its file's end
    short: str = "refuse"  # a recording or song shorter than length_s: refuse, or use the common length

    def __post_init__(self) -> None:
        if self.short not in SHORT:
            raise ParameterError(f"--short={self.short!r} must be one of {list(SHORT)}")
        if self.length_s is not None and (self.length_s < MIN_LENGTH_S or self.length_s % 5):
            raise ParameterError(f"--length={self.length_s} must be a multiple of 5 s, at least {MIN_LENGTH_S} s")

    def check(self, dataset: str) -> None:
        """Refuse folder options on another data set, where they would be silently ignored."""
        if dataset != "folder" and self != FolderOptions():
            flags = {"channels": "--channels/--bads", "length_s": "--length", "short": "--short"}
            changed = [flags[f.name] for f in fields(self) if getattr(self, f.name) != getattr(FolderOptions(), f.name)]
            raise ParameterError(f"{', '.join(changed)} apply to --dataset folder only, not {dataset!r}")


def parse_songs(text: str | None) -> tuple[int, ...] | None:
    """``"21,22"`` or ``"song21"`` -> (21, 22); empty -> None (all the data set's songs)."""
    if not text:
        return None
    return tuple(song_number(s) for s in text.split(",") if s.strip())


def parse_offsets(text: str | None) -> tuple[tuple[int, float], ...] | None:
    """``"21=0.54,22=0.98"`` -> per-song seconds; ``"default"`` -> None (the data set's); ``"none"`` -> all 0."""
    if text is None or text.strip().lower() == "default":
        return None
    if text.strip().lower() == "none":
        return ()
    pairs = []
    for item in text.split(","):
        song, sep, value = item.partition("=")
        try:
            pairs.append((song_number(song), float(value)))
        except (ValueError, ParameterError):
            raise ParameterError(f"--audio-offsets={text!r} must be 'default', 'none' or SONG=SECONDS pairs "
                                 f"like 21=0.54,22=0.98") from None
        if not sep:
            raise ParameterError(f"--audio-offsets={text!r}: {item!r} has no '=SECONDS'")
    return tuple(sorted(pairs))


def parse_audio_files(items: Iterable[str]) -> tuple[tuple[int, str], ...]:
    """``["21=Tum Hi Ho.mp3"]`` -> ((21, "Tum Hi Ho.mp3"),): the audio file of a song, by number."""
    pairs = []
    for item in items:
        song, sep, name = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--audio-file={item!r} must be SONG=FILE, e.g. 21=song21.wav")
        pairs.append((song_number(song), name.strip()))
    return tuple(sorted(pairs))


__all__ = ["AXIS_ORDER", "DEFAULT_LENGTH_S", "MIN_LENGTH_S", "SHORT", "FolderOptions", "LoaderConfig", "parse_audio_files",
           "parse_offsets", "parse_songs"]
