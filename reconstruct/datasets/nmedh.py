"""NMED-H (Kaneshiro et al. 2016): 4 Hindi pop songs, each heard twice, 125 channels at 125 Hz.

The published layout (see ``docs/datasets.md`` for the sources) is read as it is:

- one archive per stimulus condition, ``CleanEEG_aggregatedByStimulus_{orig,rev,meas,phase}.zip``,
  each holding a folder of the same name with ``songNN_a_Imputed.mat`` and ``songNN_b_Imputed.mat``,
  the first and second presentation of stimulus NN;
- in each file ``dataNN_a`` (or ``dataNN_b``): 125 electrodes x samples x 12 participants, ``fs`` = 125,
  and ``subsNN_a`` (``subsNN_b``): a 1 x 12 cell of participant ids;
- the original songs are stimuli 21-24; the public preprocessing code numbers reversed 25-28,
  phase-scrambled 29-32 and measure-shuffled 33-36 (:data:`CONDITIONS`);
- ``behaveStruct_a.mat``, ``behaveStruct_b.mat`` and ``stimAssignment.mat`` beside the archives are not
  interpreted; their variable names are recorded in ``Dataset.meta``.

Each listener heard each song in a different condition, so within one condition every participant
heard exactly one song, twice. One condition is loaded at a time, never a mix.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from reconstruct.datasets.common import format_key, load_song_audio, recordings_from_mat, require_dir, song_number
from reconstruct.errors import DataFormatError, ParameterError
from reconstruct.matfile import whos
from reconstruct.recording import Dataset, Recording

CONDITIONS = {"orig": (21, 22, 23, 24), "rev": (25, 26, 27, 28), "phase": (29, 30, 31, 32),
              "meas": (33, 34, 35, 36)}
PRESENTATIONS = {"both": ("a", "b"), "a": ("a",), "b": ("b",), "holdout-b": ("a", "b")}
ARCHIVE = "CleanEEG_aggregatedByStimulus_{condition}"
FILE_PATTERN = "song{n}_{p}_Imputed.mat"
DATA_KEY, FS_KEY, PARTICIPANTS_KEY = "data{n}_{p}", "fs", "subs{n}_{p}"
# Seconds of the commercial audio before the EEG starts, as trimmed by public code that aligns them
# (about 0.54, 0.98, 0.08, 0.35 s for songs 21-24); other conditions default to 0.
AUDIO_OFFSETS_S = {21: 0.54, 22: 0.98, 23: 0.08, 24: 0.35}
METADATA_FILES = ("stimAssignment.mat", "behaveStruct_a.mat", "behaveStruct_b.mat")


def load_nmedh(eeg_path: str | Path, audio_dir: str | Path, *, condition: str = "orig",
               songs: Iterable[int | str] | None = None, presentations: str = "holdout-b",
               file_pattern: str = FILE_PATTERN, data_key: str = DATA_KEY, fs_key: str | None = FS_KEY,
               participants_key: str | None = PARTICIPANTS_KEY,
               axis_order: str = "channels,samples,participants",
               audio_files: Mapping[int | str, str | Path] | None = None,
               audio_offsets: Mapping[int | str, float] | None = None,
               progress: bool = False) -> Dataset:
    """Load NMED-H from the folder or archive as published, so the paper's listening study can be rerun on it.

    Parameters
    ----------
    eeg_path : str or Path
        The published folder (holding ``CleanEEG_aggregatedByStimulus_<condition>.zip`` or its extracted
        folder), that archive itself, or the extracted folder of ``songNN_{a,b}_Imputed.mat`` files.
    audio_dir : str or Path
        Folder with the stimuli; song NN's is the one file whose name carries NN (``21 Tum Hi Ho.mp3``),
        unless `audio_files` names it.
    condition : {"orig", "rev", "phase", "meas"}
        The one stimulus condition to load. A path named for another condition is refused.
    songs : iterable of int or str, optional
        Stimulus numbers of that condition (default: all four, e.g. 21-24 for ``orig``).
    presentations : {"holdout-b", "both", "a", "b"}
        ``holdout-b`` (default): a are the recordings, b are loaded into ``Dataset.held_out`` as a test
        presentation no model trains on (and each (participant, song) stays one recording, as later
        stages assume); ``both``: a and b each become a recording of the same participant and song
        (``presentation`` "a"/"b"); ``a`` or ``b``: only that one.
    file_pattern, data_key, fs_key, participants_key : str
        Templates in ``{n}`` (stimulus number) and ``{p}`` (presentation letter); defaults are the
        published names. `fs_key` None assumes 125 Hz; `participants_key` None numbers participants.
    axis_order : str
        How the EEG array is stored (published: ``"channels,samples,participants"``).
    audio_files : mapping, optional
        Stimulus number -> audio file (relative to `audio_dir`) where the number rule does not fit.
    audio_offsets : mapping, optional
        Stimulus number -> seconds to drop from the start of its audio (negative: silence to prepend).
        Default :data:`AUDIO_OFFSETS_S` for ``orig``, 0 otherwise; songs not listed get 0.
    progress : bool
        Show a progress bar over songs.

    Returns
    -------
    Dataset
        ``name="nmedh"``, one Recording per participant, song and presentation; audio mono float32 at
        22 050 Hz, aligned by the offsets.

    Raises
    ------
    DataFormatError
        A file or presentation is missing, unreadable, or has the wrong keys, shape or rate.
    ParameterError
        An unknown condition, song, presentation mode or template.
    """
    numbers = _song_numbers(condition, songs)
    letters = _presentations(presentations)
    offsets = _offsets(condition, numbers, audio_offsets)
    audio_dir = require_dir(audio_dir, "NMED-H audio folder")
    templates = {"file_pattern": file_pattern, "data_key": data_key, "fs_key": fs_key,
                 "participants_key": participants_key}
    with _source(eeg_path, condition) as source:
        names = {(n, p): format_key(file_pattern, what="file_pattern", n=n, p=p) for n in numbers for p in letters}
        for (n, p), name in names.items():  # check every file is there before reading any (each is ~400 MB)
            source.require(name, n=n, p=p, mode=presentations)
        loaded: dict[str, list[Recording]] = {p: [] for p in letters}
        audio, audio_paths = {}, {}
        for n in tqdm(numbers, desc="NMED-H", unit="song", disable=not progress):
            for p in letters:
                keys = {k: format_key(v, what=k, n=n, p=p) if v else None for k, v in templates.items()}
                with source.file(names[n, p]) as path:
                    loaded[p] += recordings_from_mat(
                        path, song=f"song{n}", data_key=keys["data_key"], fs_key=keys["fs_key"],
                        participants_key=keys["participants_key"], axis_order=axis_order, presentation=p)
            _check_same_participants(loaded, n, names, source)
            audio[f"song{n}"], audio_paths[n] = load_song_audio(audio_dir, n, audio_files=_by_number(audio_files),
                                                                offset_s=offsets[n])
    held_out = loaded.pop("b") if presentations == "holdout-b" else []
    recordings = [r for p in letters if p in loaded for r in loaded[p]]
    recordings.sort(key=lambda r: (int(r.song.removeprefix("song")), r.presentation))
    meta = {"source": "NMED-H", "condition": condition, "presentations": presentations,
            "eeg_source": str(source.where), "axis_order": axis_order, **templates,
            "eeg_files": {f"song{n}_{p}": source.label(name) for (n, p), name in names.items()},
            "audio_files": {f"song{n}": str(p) for n, p in audio_paths.items()},
            "audio_offsets_s": {f"song{n}": offsets[n] for n in numbers},
            "one_song_per_participant": _one_song_each(recordings + held_out),
            "metadata_files": source.metadata()}
    return Dataset(name="nmedh", simulated=False, recordings=recordings, audio=audio, meta=meta,
                   held_out=held_out)


def _song_numbers(condition: str, songs: Iterable[int | str] | None) -> list[int]:
    """Resolve the requested stimuli, refusing any outside the chosen condition (conditions never mix)."""
    if condition not in CONDITIONS:
        raise ParameterError(f"condition={condition!r} must be one of {list(CONDITIONS)}")
    allowed = CONDITIONS[condition]
    if songs is None:
        return list(allowed)
    requested = [songs] if isinstance(songs, (str, int)) else list(songs)
    numbers = list(dict.fromkeys(song_number(s) for s in requested))
    wrong = [n for n in numbers if n not in allowed]
    if not numbers or wrong:
        other = {n: c for c, ns in CONDITIONS.items() for n in ns}
        hint = "".join(f"; {n} is condition {other[n]!r}" for n in wrong if n in other)
        raise ParameterError(f"songs={requested!r} must be stimuli {allowed[0]}-{allowed[-1]} of condition "
                             f"{condition!r} (at least one){hint}")
    return numbers


def _presentations(mode: str) -> tuple[str, ...]:
    """The presentation letters a mode reads."""
    if mode not in PRESENTATIONS:
        raise ParameterError(f"presentations={mode!r} must be one of {list(PRESENTATIONS)}")
    return PRESENTATIONS[mode]


def _by_number(mapping: Mapping[int | str, object] | None) -> dict[int, object]:
    """Key a per-song mapping by stimulus number, whichever way the caller spelt the songs."""
    return {song_number(k): v for k, v in (mapping or {}).items()}


def _offsets(condition: str, numbers: list[int], given: Mapping[int | str, float] | None) -> dict[int, float]:
    """Per-song audio onset offsets: the caller's, else the published trims for the original songs."""
    chosen = _by_number(AUDIO_OFFSETS_S if given is None and condition == "orig" else given)
    unknown = sorted(set(chosen) - set(numbers)) if given is not None else []
    if unknown:
        raise ParameterError(f"audio_offsets names songs {unknown} that are not loaded ({numbers})")
    return {n: float(chosen.get(n, 0.0)) for n in numbers}


def _check_same_participants(loaded: dict[str, list[Recording]], n: int, names: dict, source: _Source) -> None:
    """Presentation b must be the same listeners as a: the design says each heard the song twice."""
    if set(loaded) != {"a", "b"}:
        return
    ids = {p: {r.participant for r in recs if r.song == f"song{n}"} for p, recs in loaded.items()}
    if ids["a"] != ids["b"]:
        raise DataFormatError(f"{source.label(names[n, 'b'])}: participants differ from presentation a "
                              f"(only in a: {sorted(ids['a'] - ids['b'])}, only in b: {sorted(ids['b'] - ids['a'])}); "
                              f"load one presentation with presentations='a' or 'b'")


def _one_song_each(recordings: list[Recording]) -> bool:
    """True when every participant heard exactly one song, as NMED-H's design has within one condition."""
    songs: dict[str, set[str]] = {}
    for r in recordings:
        songs.setdefault(r.participant, set()).add(r.song)
    return all(len(s) == 1 for s in songs.values())


class _Source:
    """Where one condition's files are: a folder, or a zip archive read one member at a time."""

    def __init__(self, where: Path, archive: zipfile.ZipFile | None, top: Path) -> None:
        self.where, self.archive, self.top = where, archive, top
        self.members = {} if archive is None else _zip_members(archive)

    def names(self) -> list[str]:
        """The song files available, for messages."""
        if self.archive is not None:
            return sorted(self.members)
        return sorted(p.name for p in self.where.iterdir() if p.suffix.lower() == ".mat" and p.name.startswith("song"))

    def label(self, name: str) -> str:
        """How messages name a file: its path, or ``archive.zip:member`` inside an archive."""
        return f"{self.where}:{self.members[name]}" if self.archive is not None else str(self.where / name)

    def require(self, name: str, *, n: int, p: str, mode: str) -> None:
        """Fail, listing what is there, when a presentation the mode needs is missing."""
        if (name in self.members) if self.archive is not None else (self.where / name).is_file():
            return
        other = "a" if p == "b" else "b"
        raise DataFormatError(f"{self.where}: no {name} (presentation {p} of stimulus {n}, needed by "
                              f"presentations={mode!r}; presentations={other!r} loads the other alone); "
                              f"song files there: {', '.join(self.names()) or 'none'}")

    @contextmanager
    def file(self, name: str) -> Iterator[Path]:
        """A readable path for one song file; an archive member is extracted to a temporary folder."""
        if self.archive is None:
            yield self.where / name
            return
        with tempfile.TemporaryDirectory(prefix="tuneback-nmedh-") as tmp:
            try:
                path = Path(self.archive.extract(self.members[name], tmp))
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DataFormatError(f"{self.label(name)}: cannot extract from the archive ({exc})") from exc
            try:
                yield path
            except DataFormatError as exc:  # name the member, not the temporary copy
                raise DataFormatError(str(exc).replace(str(path), self.label(name))) from exc

    def metadata(self) -> dict[str, list[str]]:
        """Variable names of the metadata files published beside the EEG, when present."""
        present = [self.top / name for name in METADATA_FILES if (self.top / name).is_file()]
        return {p.name: [v.name for v in whos(p)] for p in present}


@contextmanager
def _source(eeg_path: str | Path, condition: str) -> Iterator[_Source]:
    """Find the chosen condition's files under `eeg_path`, refusing a path that holds another condition."""
    path = Path(eeg_path)
    if not path.exists():
        raise DataFormatError(f"{path}: NMED-H EEG not found (give the published folder, "
                              f"{ARCHIVE.format(condition=condition)}.zip or its extracted folder)")
    named = _named_condition(path)
    if named is not None and named != condition:
        raise DataFormatError(f"{path}: holds condition {named!r}, not {condition!r}; pass condition={named!r} "
                              f"(--condition {named}) to load it")
    if path.is_dir():
        archive = ARCHIVE.format(condition=condition)
        for candidate in (path / archive, path / f"{archive}.zip"):
            if candidate.exists():
                path = candidate
                break
        else:
            _refuse_other_conditions(path, condition)
    top = path.parent if path.is_file() or _named_condition(path) else path  # metadata files sit beside the archives
    if path.is_dir():
        yield _Source(path, None, top)
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable zip archive ({exc})") from exc
    with archive:
        yield _Source(path, archive, top)


def _named_condition(path: Path) -> str | None:
    """The condition a published archive or folder name says it holds, if it is one."""
    match = re.fullmatch(r"CleanEEG_aggregatedByStimulus_(\w+?)(\.zip)?", path.name)
    return match.group(1) if match else None


def _refuse_other_conditions(folder: Path, condition: str) -> None:
    """A published folder without the chosen condition but with others: say which are there."""
    others = sorted(p.name for p in folder.iterdir() if _named_condition(p) not in (None, condition))
    has_songs = any(p.name.startswith("song") and p.suffix == ".mat" for p in folder.iterdir())
    if others and not has_songs:
        raise DataFormatError(f"{folder}: no {ARCHIVE.format(condition=condition)}(.zip) for condition "
                              f"{condition!r}; there is: {', '.join(others)} (choose one with --condition)")


def _zip_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Song file name -> member path, skipping macOS resource forks; a name twice is an error."""
    members: dict[str, str] = {}
    for info in archive.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or info.filename.startswith("__MACOSX") or base.startswith("._") or not base:
            continue
        if base in members:
            raise DataFormatError(f"{archive.filename}: holds {base} twice ({members[base]}, {info.filename})")
        members[base] = info.filename
    return members


__all__ = ["AUDIO_OFFSETS_S", "CONDITIONS", "FILE_PATTERN", "METADATA_FILES", "PRESENTATIONS", "load_nmedh"]
