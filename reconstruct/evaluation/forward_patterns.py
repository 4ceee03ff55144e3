"""The trf decoder's Haufe forward patterns as a figure: scalp maps where channel positions are known.

`reconstruct.chunk_decoders.save_patterns` writes, at train time, each participant's forward pattern of the
decoded first target component (Haufe et al. 2014) and their mean. Scalp maps need channel positions: they
are drawn with MNE (`mne.viz.plot_topomap`) only when every channel name is in one of MNE's standard
montages (e.g. the EGI ``GSN-HydroCel-129`` net of NMED: ``E1`` … ``E128``, ``Cz``), never guessed from the
channel count. Otherwise (the simulated set and the NMED files record no channel names) the figure is a
channel × lag image, and its title says why.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MONTAGES = ("GSN-HydroCel-129", "GSN-HydroCel-128", "colin27_1005")


def montage_for(channel_names: Sequence[str] | None) -> str | None:
    """The first MNE standard montage that names every channel (None: positions unknown)."""
    if not channel_names:
        return None
    import mne
    for name in MONTAGES:
        if set(channel_names) <= set(mne.channels.make_standard_montage(name).ch_names):
            return name
    return None


def _maps(mean: np.ndarray, lag_ms: np.ndarray, names: Sequence[str], montage: str, n_maps: int = 5) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne
    info = mne.create_info(list(names), sfreq=100.0, ch_types="eeg")
    info.set_montage(mne.channels.make_standard_montage(montage))
    picks = np.unique(np.linspace(0, len(lag_ms) - 1, min(n_maps, len(lag_ms))).round().astype(int))
    vmax = float(np.nanmax(np.abs(mean))) or 1.0
    fig, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 2.6))
    for ax, j in zip(np.atleast_1d(axes), picks):
        mne.viz.plot_topomap(mean[:, j], info, axes=ax, show=False, vlim=(-vmax, vmax), cmap="RdBu_r")
        ax.set_title(f"EEG {lag_ms[j]:.0f} ms after", fontsize=9)
    fig.suptitle(f"trf forward pattern, mean over participants ({montage})", fontsize=10)
    return _png(fig)


def _image(mean: np.ndarray, lag_ms: np.ndarray) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    vmax = float(np.nanmax(np.abs(mean))) or 1.0
    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    half = float(np.diff(lag_ms).min()) / 2 if len(lag_ms) > 1 else 5.0
    im = ax.imshow(mean, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest",
                   extent=(lag_ms[0] - half, lag_ms[-1] + half, mean.shape[0] - 0.5, -0.5))
    ax.set(xlabel="EEG lag after the music (ms)", ylabel="channel (index)",
           title="trf forward pattern, mean over participants\n(no channel positions known: channel × lag)")
    ax.title.set_fontsize(9)
    fig.colorbar(im, ax=ax, label="pattern (channel std per unit)")
    return _png(fig)


def _png(fig) -> bytes:  # noqa: ANN001 - matplotlib Figure
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _located(path: Path, channel_names: Sequence[str] | None) -> tuple[Path, Sequence[str] | None]:
    """(model folder, channel names) of a model folder or a run folder (whose data set may name its channels)."""
    from reconstruct.chunk_decoders import PATTERNS_FILE
    from reconstruct.rundir import RunDir
    if (path / PATTERNS_FILE).is_file():
        return path, channel_names
    run = RunDir(path)
    if channel_names is None and run.dataset_file.is_file():
        channel_names = run.dataset().get("meta", {}).get("channel_names")
    return run.model, channel_names


def forward_pattern_figure(path: Path, channel_names: Sequence[str] | None = None) -> bytes:
    """PNG of the participants' mean forward pattern: MNE scalp maps at a few lags when the channel names (given,
    or recorded by the run's load stage) are all in a standard montage, else a channel × lag image.
    `path`: a trained trf run folder or its model folder."""
    from reconstruct.chunk_decoders import load_patterns
    model_dir, channel_names = _located(Path(path), channel_names)
    saved = load_patterns(model_dir)
    mean = saved["mean"]
    lag_ms = saved["lags"] * 1000.0 / float(saved["fps"])
    montage = montage_for(channel_names)
    if montage is not None and len(channel_names) == mean.shape[0]:
        return _maps(mean, lag_ms, channel_names, montage)
    return _image(mean, lag_ms)
