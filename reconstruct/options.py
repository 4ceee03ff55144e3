"""The options every `tuneback reconstruct` verb shares, and the one place they become a RunConfig."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from reconstruct.config import DEFAULT_SNR, LITERATURE_SNR, SNR_LEVELS, RunConfig, default_input
from reconstruct.decoders.registry import decoder_names
from reconstruct.datasets.channels import BADS, ChannelOptions, parse_channels
from reconstruct.datasets.options import (AXIS_ORDER, DEFAULT_LENGTH_S, SHORT, FolderOptions, LoaderConfig,
                                         parse_audio_files, parse_offsets, parse_songs)
from reconstruct.errors import ParameterError
from reconstruct.invert import InversionConfig
from reconstruct.models.trf import TRFConfig
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import MAX_GUARD_S, SCOPES
from reconstruct.train import TrainConfig


def _ref_db(value: str) -> tuple[float, ...] | None:
    if value == "auto":
        return None
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise ParameterError(f"--ref-db={value!r} must be 'auto' or comma-separated dB values, one per song") from None


class SnrLevel(click.ParamType):
    """A number, or the name of a calibrated level ('default', 'literature')."""

    name = "snr"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """'literature' → its SNR; '0.4' → 0.4; anything else is refused with the levels listed."""
        if isinstance(value, float):
            return value
        if str(value) in SNR_LEVELS:
            return SNR_LEVELS[str(value)]
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor one of {sorted(SNR_LEVELS)}", param, ctx)


def run_options(func: Callable) -> Callable:
    """The options every stage shares, so each verb sees the same configuration."""
    options = [
        click.option("--run-dir", type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True,
                     help="Where the artefacts of this run live."),
        click.option("--dataset", type=click.Choice(["simulated", "nmedt", "nmedh", "folder"]), default="simulated",
                     show_default=True),
        click.option("--eeg", "eeg_path",
                     help="EEG folder (NMED-T/NMED-H .mat files, or a bring-your-own folder); NMED-H also its zip."),
        click.option("--audio", "audio_path", help="Folder with the songs' audio (default: the EEG folder)."),
        click.option("--condition", type=click.Choice(["orig", "rev", "phase", "meas"]), default="orig",
                     show_default=True, help="NMED-H stimulus condition to load (one only; orig = songs 21-24)."),
        click.option("--presentations", type=click.Choice(["holdout-b", "both", "a", "b"]), default="holdout-b",
                     show_default=True, help="NMED-H: a as the recordings and b held out as a test presentation "
                     "(saved to data/held_out/, never trained on), a and b as two recordings each, or one alone."),
        click.option("--load-songs", help="NMED-T/NMED-H songs to load, e.g. 21,22 (default: all)."),
        click.option("--eeg-pattern", help="EEG file name template in {n} (song) and {p} (presentation) "
                     "[nmedt: song{n}_Imputed.mat; nmedh: song{n}_{p}_Imputed.mat]."),
        click.option("--data-key", help="EEG variable template [nmedt: data{n}; nmedh: data{n}_{p}]."),
        click.option("--fs-key", help="Sampling-rate variable, 'none' to assume 125 Hz [fs]."),
        click.option("--subs-key", help="Participant-id variable template, 'none' to number them "
                     "[nmedt: subs{n}; nmedh: subs{n}_{p}]."),
        click.option("--axis-order", default=AXIS_ORDER, show_default=True,
                     help="How the EEG array is stored, as a permutation of channels,samples,participants."),
        click.option("--audio-offsets", default="default", show_default=True,
                     help="Seconds cut from the start of each song's audio to meet its EEG: SONG=S pairs "
                     "(21=0.54,22=0.98), 'none', or 'default' (nmedh orig: 21=0.54,22=0.98,23=0.08,24=0.35; else 0)."),
        click.option("--audio-file", "audio_files", multiple=True, metavar="SONG=FILE",
                     help="A song's audio file (relative to --audio) where its number is not in the name; repeatable."),
        click.option("--channels", "channels",
                     help="--dataset folder: EEG channels by name: 'Fz,Cz,Pz' keeps only these (in this order), "
                          "'-Fp1,-Fp2' drops these, '@names.txt' reads the names from a file. Only EEG channels "
                          "ever reach a decoder (EOG, trigger, audio/StimTrak and other aux channels are "
                          "dropped, by type and by label)."),
        click.option("--bads", type=click.Choice(list(BADS)), default="drop", show_default=True,
                     help="--dataset folder: channels the file marks bad are dropped, or interpolated (MNE, "
                          "standard 10-05 positions when the file has none)."),
        click.option("--length", "length_s", type=int, default=DEFAULT_LENGTH_S, show_default=True,
                     help="--dataset folder: seconds used from each song onset (a multiple of 5)."),
        click.option("--short", type=click.Choice(list(SHORT)), default="refuse", show_default=True,
                     help="--dataset folder: a recording or song shorter than --length is refused, or all "
                          "use the common length."),
        click.option("--allow-stimulus-like", "allow_stimulus_like", default="",
                     help="Comma-separated channels the stimulus-leak guard must not refuse: ONLY for channels "
                          "you know are scalp EEG (the guard refuses a channel following the song's envelope "
                          "at 0-50 ms far closer than scalp EEG does)."),
        click.option("--shape", type=click.Choice(["nmedh", "nmedt"]), default="nmedh", show_default=True,
                     help="Simulated set's shape: nmedh = 4 songs × 12 participants, nmedt = 10 × 20."),
        click.option("--snr", type=SnrLevel(), default=str(DEFAULT_SNR), show_default=True,
                     help="Simulated signal-to-noise power ratio, or 'literature' "
                          f"(= {LITERATURE_SNR:g}: envelope backward-model r ≈ 0.1-0.15, as real EEG) or "
                          "'default'; 0 is the noise-only control."),
        click.option("--sim-seed", type=int, default=0, show_default=True),
        click.option("--meter", type=click.Choice(["steady", "loose"]), default="steady", show_default=True,
                     help="Simulated songs' timing: steady (one tempo, a 4-bar chord cycle) or loose (every beat's "
                          "length and harmony drawn afresh; a diagnostic for the circularly shifted control)."),
        click.option("--input", "input_kind", type=click.Choice(["psd", "raw"]), default=None,
                     help="EEG input per second [default: psd for cnn and ridge, raw for trf, temporal, contrastive]."),
        click.option("--target", "target_kind", type=click.Choice(["mel", "linear"]), default="mel",
                     show_default=True),
        click.option("--decoder", type=click.Choice([*decoder_names(), "auto"]), default="cnn", show_default=True,
                     help="cnn = the paper's Table-1 CNN (small preset by --arch); ridge on the same features; "
                          "trf = the field's lagged backward model per participant (MNE's ReceptiveField); "
                          "temporal = a 1-D conv decoder with ±1 s of context; contrastive = a subject layer, shared "
                          "body, low-rank head and a CLIP loss on 1-8 Hz EEG; auto = the one that scores best "
                          "on validation chunks by the time-specific measures (never test chunks)."),
        click.option("--ridge-alpha", type=float, default=10.0, show_default=True),
        click.option("--trf-cv", type=click.Choice(["kfold", "loo"]), default="kfold", show_default=True,
                     help="trf's cross-validation over training chunks: kfold = 3 folds of chunk positions; loo = "
                          "leave one chunk position out (~7x slower, ~90x with the nested estimate)."),
        click.option("--trf-nested/--no-trf-nested", default=True, show_default=True,
                     help="Also trf's unbiased nested-CV r (each fold scored at the point an inner CV without it "
                          "chose); about doubles the fit."),
        click.option("--arch", type=click.Choice(["small", "paper"]), default="small", show_default=True,
                     help="CNN preset: paper = Table 1 exactly; small = CPU demo."),
        click.option("--epochs", type=int, default=TrainConfig.max_epochs, show_default=True),
        click.option("--patience", type=int, default=TrainConfig.patience, show_default=True),
        click.option("--batch-size", type=int, default=TrainConfig.batch_size, show_default=True),
        click.option("--train-seed", type=int, default=0, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda."),
        click.option("--split-seed", type=int, default=0, show_default=True),
        click.option("--split-scope", type=click.Choice(list(SCOPES)), default="song", show_default=True,
                     help="One interleaving pattern per song (shared by its recordings), one for the whole "
                          "data set, or one per recording: 'recording' LEAKS test targets through other "
                          "recordings of the song and exists only to show that the controls catch it."),
        click.option("--split-guard", "split_guard_s", type=click.IntRange(0, MAX_GUARD_S), default=0,
                     show_default=True, help="Seconds of training chunks next to a test chunk left out of "
                                             "training (the EEG lags the music by up to ~200 ms)."),
        click.option("--select-seed", type=int, default=0, show_default=True),
        click.option("--ref-db", default="auto", show_default=True,
                     help="Per-song ref_dB for Eq. 1, comma-separated in song order (paper NMED-H: 46,46,52,43)."),
        click.option("--n-iter", type=int, default=InversionConfig.n_iter, show_default=True,
                     help="Griffin-Lim iterations."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_config(**o) -> RunConfig:
    """CLI options → RunConfig (the one place options become configuration)."""
    return RunConfig(
        run_dir=o["run_dir"], dataset=o["dataset"], eeg_path=o["eeg_path"], audio_path=o["audio_path"],
        simulation=SimulatedDataConfig(shape=o["shape"], snr=o["snr"], seed=o["sim_seed"], meter=o["meter"]),
        input_kind=o["input_kind"] or default_input(o["decoder"]), target_kind=o["target_kind"],
        decoder=o["decoder"],
        ridge_alpha=o["ridge_alpha"], trf=TRFConfig(cv=o.get("trf_cv") or "kfold", nested=o.get("trf_nested", True)),
        train=TrainConfig(architecture=o["arch"], max_epochs=o["epochs"], patience=o["patience"],
                          batch_size=o["batch_size"], seed=o["train_seed"], device=o["device"]),
        split_seed=o["split_seed"], split_scope=o["split_scope"], split_guard_s=o["split_guard_s"],
        select_seed=o["select_seed"], ref_db=_ref_db(o["ref_db"]),
        inversion=InversionConfig(n_iter=o["n_iter"]), loader=build_loader_config(**o),
        folder=build_folder_options(**o),
        allow_stimulus_like=tuple(c.strip() for c in (o.get("allow_stimulus_like") or "").split(",") if c.strip()))


def build_folder_options(**o) -> FolderOptions:
    """The --dataset folder options of the CLI → FolderOptions."""
    keep, drop = parse_channels(o.get("channels"))
    return FolderOptions(channels=ChannelOptions(keep=keep, drop=drop, bads=o.get("bads") or "drop"),
                         length_s=o.get("length_s") or DEFAULT_LENGTH_S, short=o.get("short") or "refuse")


def build_loader_config(**o) -> LoaderConfig:
    """The loader options of the CLI → LoaderConfig."""
    return LoaderConfig(
        condition=o["condition"], presentations=o["presentations"], songs=parse_songs(o["load_songs"]),
        file_pattern=o["eeg_pattern"], data_key=o["data_key"], fs_key=o["fs_key"],
        participants_key=o["subs_key"], axis_order=o["axis_order"],
        audio_offsets=parse_offsets(o["audio_offsets"]), audio_files=parse_audio_files(o["audio_files"]))
