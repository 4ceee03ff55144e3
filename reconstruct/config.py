"""The run configuration: every parameter of every stage, built once from the CLI and saved in each manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reconstruct.datasets.options import FolderOptions, LoaderConfig
from reconstruct.decoders.registry import decoder_names, get_decoder
from reconstruct.errors import ParameterError
from reconstruct.features import INPUTS, TARGETS
from reconstruct.invert import InversionConfig
from reconstruct.models.contrastive import ContrastiveConfig
from reconstruct.models.temporal import TemporalConfig
from reconstruct.models.trf import TRFConfig
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import MAX_GUARD_S, SCOPES, USED_S
from reconstruct.train import TrainConfig

DATASETS = ("simulated", "nmedt", "nmedh", "folder")


def default_input(decoder: str) -> str:
    """The input a decoder reads unless told otherwise (its registered `input_kind`: PSD for the paper's CNN
    and ridge, raw EEG for the trf and the temporal CNN; ``auto`` reads PSD until a candidate is chosen: each
    candidate's sub-run takes its own)."""
    return "psd" if decoder == "auto" else get_decoder(decoder).input_kind


DEFAULT_SNR = 0.4
# stimulus-envelope backward-model r ≈ 0.14 here (4 recordings, 2026-12-02), the level real EEG decoding reaches
LITERATURE_SNR = 3e-4
SNR_LEVELS = {"default": DEFAULT_SNR, "literature": LITERATURE_SNR}


@dataclass(frozen=True)
class RunConfig:
    """One reconstruction run: where it lives, what data, which features, model, inversion and seeds."""

    run_dir: Path = Path("runs/demo")
    dataset: str = "simulated"
    eeg_path: str | None = None
    audio_path: str | None = None
    simulation: SimulatedDataConfig = field(default_factory=lambda: SimulatedDataConfig(snr=DEFAULT_SNR))
    input_kind: str = "psd"
    target_kind: str = "mel"
    decoder: str = "cnn"
    ridge_alpha: float = 10.0
    train: TrainConfig = field(default_factory=TrainConfig)
    trf: TRFConfig = field(default_factory=TRFConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    contrastive: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    split_seed: int = 0
    split_scope: str = "song"
    split_guard_s: int = 0
    select_seed: int = 0
    ref_db: tuple[float, ...] | None = None
    inversion: InversionConfig = field(default_factory=InversionConfig)
    songs: tuple[str, ...] | None = None
    loader: LoaderConfig = field(default_factory=LoaderConfig)
    folder: FolderOptions = field(default_factory=FolderOptions)  # --dataset folder only
    allow_stimulus_like: tuple[str, ...] = ()  # channels the stimulus-leak guard may not refuse (explicit)

    def __post_init__(self) -> None:
        checks = [("dataset", self.dataset, DATASETS), ("input_kind", self.input_kind, INPUTS),
                  ("target_kind", self.target_kind, TARGETS), ("decoder", self.decoder, decoder_names() + ("auto",))]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ParameterError(f"{name}={value!r} must be one of {list(allowed)}")
        decoder = get_decoder(self.decoder) if self.decoder != "auto" else None
        if decoder is not None and decoder.input_required and self.input_kind != decoder.input_kind:
            raise ParameterError(f"decoder={self.decoder!r} reads EEG time series: use --input {decoder.input_kind} "
                                 f"(got input_kind={self.input_kind!r})")
        if self.dataset != "simulated" and not self.eeg_path:
            raise ParameterError(f"dataset={self.dataset!r} needs --eeg PATH")
        if self.split_scope not in SCOPES:
            raise ParameterError(f"split_scope={self.split_scope!r} must be one of {list(SCOPES)}")
        if not 0 <= self.split_guard_s <= MAX_GUARD_S:
            raise ParameterError(f"split_guard_s={self.split_guard_s} must be in [0, {MAX_GUARD_S}] seconds")
        if self.ridge_alpha <= 0:
            raise ParameterError(f"ridge_alpha={self.ridge_alpha} must be > 0")
        self.loader.kwargs(self.dataset)  # refuses loader options the data set has not got
        self.folder.check(self.dataset)
        if self.dataset == "simulated" and self.allow_stimulus_like:
            raise ParameterError("--allow-stimulus-like applies to real data sets (the guard does not run "
                                 "on the simulated one)")

    @property
    def used_s(self) -> int:
        """Seconds of every recording the stages use: the paper's 240, or a folder's `--length`."""
        if self.dataset == "folder" and self.folder.length_s is not None:
            return self.folder.length_s
        return USED_S

    def to_dict(self) -> dict:
        """Plain JSON-able dict (paths as strings)."""
        d = asdict(self)
        d["run_dir"] = str(self.run_dir)
        return d

    def with_(self, **changes) -> RunConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


def stage_hash(params: dict) -> str:
    """Short stable hash of a stage's parameters, to tell whether its artefacts can be reused (stored under the
    key "fingerprint" in each `<stage>.done.json`, so earlier runs stay reusable)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
