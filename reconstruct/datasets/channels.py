"""Which channels of a recording may reach a decoder: EEG only, never a stimulus, EOG, trigger or bad one.

EDF and BrainVision files store no channel types (or only units), so every aux channel reads back as
"EEG". Types are therefore also inferred from labels (:func:`infer_type`): EOG/ECG/EMG, trigger and status
channels, and audio / StimTrak / Erg / aux channels, which carry the stimulus itself. Channels the file
marks bad are dropped (or interpolated, as an option), the user may keep or drop channels by name, and
every recording is matched to one channel list **by name**, so a reordered file cannot load misaligned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconstruct.errors import DataFormatError, ParameterError

BADS = ("drop", "interpolate")
_NAME_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("eog", re.compile(r"eog|^(lo|io|so)[12]$|^[hv]eo[a-z]?$")),  # Neuroscan: HEO, VEO, VEOU, VEOL
    ("ecg", re.compile(r"ecg|ekg")),
    ("emg", re.compile(r"emg")),
    ("stim", re.compile(r"trigger|^trig|^status|^(sti|stim|stimulus|markers?|events?|sync|ttl)\d*$")),
    ("misc", re.compile(r"audio|sound|stimtrak|loopback|envelope|microphone|^mic\d*$|^erg\d*$|^aux\d*$"
                        r"|^exg\d+$|^bip\d+$|^misc|^photo|^gsr|^eda$|^resp|^temp|^sens|^acc[xyz]?\d*$"
                        r"|^button|^pulse|^pleth|^spo2")),
)


def infer_type(name: str) -> str | None:
    """The non-EEG type a channel's label implies ("eog", "ecg", "emg", "stim", "misc"), or None."""
    key = re.sub(r"[\s_\-.]", "", name.lower())
    return next((kind for kind, rule in _NAME_RULES if rule.search(key)), None)


@dataclass(frozen=True)
class ChannelOptions:
    """``--channels`` and ``--bads``: a keep list (its order is the run's), a drop list, and bad-channel policy."""

    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    bads: str = "drop"

    def __post_init__(self) -> None:
        if self.bads not in BADS:
            raise ParameterError(f"--bads={self.bads!r} must be one of {list(BADS)}")
        both = sorted(set(self.keep) & set(self.drop))
        if both:
            raise ParameterError(f"--channels both keeps and drops {', '.join(both)}")


def parse_channels(text: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"Fz,Cz"`` -> keep (Fz, Cz); ``"-Fp1,-Fp2"`` -> drop; ``"@names.txt"`` -> the names in that file."""
    if not text:
        return (), ()
    items: list[str] = []
    for item in (i.strip() for i in text.split(",")):
        if item.startswith("@"):
            path = Path(item[1:])
            if not path.is_file():
                raise ParameterError(f"--channels {item}: file {path} not found")
            items += [n.strip() for n in re.split(r"[,\n]", path.read_text()) if n.strip()]
        elif item:
            items.append(item)
    drop = tuple(i[1:].strip() for i in items if i.startswith("-"))
    keep = tuple(i for i in items if not i.startswith("-"))
    for names in (keep, drop):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated or "" in names:
            raise ParameterError(f"--channels={text!r} names {', '.join(repeated) or 'an empty channel'} twice")
    return keep, drop


@dataclass
class ChannelChoice:
    """What one recording contributes: the EEG channels kept (in file order), and why each other was dropped."""

    kept: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    interpolate: list[str] = field(default_factory=list)


def choose_channels(names: Sequence[str], file_types: Sequence[str], bads: Sequence[str],
                    options: ChannelOptions, *, where: str) -> ChannelChoice:
    """Keep EEG channels only (file type, else label), minus bads and the user's drops; apply the keep list."""
    choice = ChannelChoice(kept=[])
    for name, file_type in zip(names, file_types):
        inferred = infer_type(name) if file_type == "eeg" else None
        kind = inferred or file_type
        choice.types[name] = kind
        if name in options.drop:
            choice.dropped[name] = "dropped by --channels"
        elif kind != "eeg":
            choice.dropped[name] = f"{kind} (from its label)" if inferred else f"{kind} (typed so in the file)"
        elif name in bads and options.bads == "drop":
            choice.dropped[name] = "marked bad in the file"
        else:
            choice.kept.append(name)
            if name in bads:
                choice.interpolate.append(name)
    missing = [n for n in options.drop if n not in choice.types]
    if missing:
        raise DataFormatError(f"{where}: --channels drops {', '.join(missing)}, which the file has not got "
                              f"(it has {_listing(names)})")
    if options.keep:
        _apply_keep(choice, options.keep, where=where, names=names)
    if not choice.kept:
        raise DataFormatError(f"{where}: no EEG channels left (types: {sorted(set(choice.types.values()))}; "
                              f"dropped: {_listing(choice.dropped)})")
    return choice


def _apply_keep(choice: ChannelChoice, keep: Sequence[str], *, where: str, names: Sequence[str]) -> None:
    """Reduce `choice.kept` to the keep list, in its order, refusing a kept name that is absent or not EEG."""
    for name in keep:
        if name not in choice.types:
            raise DataFormatError(f"{where}: --channels keeps {name}, which the file has not got "
                                  f"(it has {_listing(names)})")
        if name in choice.dropped:
            raise DataFormatError(f"{where}: --channels keeps {name}, but it is {choice.dropped[name]}; only "
                                  f"EEG channels reach a decoder" + (" (or use --bads interpolate)"
                                                                     if "bad" in choice.dropped[name] else ""))
    for name in choice.kept:
        if name not in keep:
            choice.dropped[name] = "not in --channels"
    choice.kept = list(keep)
    choice.interpolate = [n for n in choice.interpolate if n in keep]


def match_by_name(reference: Sequence[str], names: Sequence[str], *, where: str, first: str) -> None:
    """Refuse a recording whose kept channels are not, by name, those of the first one (`first` says where)."""
    missing = [n for n in reference if n not in names]
    if missing:
        raise DataFormatError(f"{where}: lacks channel(s) {', '.join(missing[:8])} that {first} has; every "
                              f"recording needs the same EEG channels (drop them everywhere with --channels "
                              f"-{missing[0]}, or interpolate marked-bad ones with --bads interpolate)")
    extra = [n for n in names if n not in reference]
    if extra:
        raise DataFormatError(f"{where}: has channel(s) {', '.join(extra[:8])} that {first} lacks; every "
                              f"recording needs the same EEG channels (drop them everywhere with --channels "
                              f"-{extra[0]}, or interpolate marked-bad ones with --bads interpolate)")


def _listing(names: Sequence[str]) -> str:
    names = list(names)
    return ", ".join(names[:12]) + (f" … ({len(names)} in all)" if len(names) > 12 else "") if names else "none"


__all__ = ["BADS", "ChannelChoice", "ChannelOptions", "choose_channels", "infer_type", "match_by_name",
           "parse_channels"]
