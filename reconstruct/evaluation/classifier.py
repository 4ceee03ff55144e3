"""Song identification from spectrograms (paper Table 2): a CNN trained on TRUE target spectra and
tested on reconstructions, so its accuracy says how much of each song a reconstruction carries.

Training examples are the true 1-s targets of every (song, second) that a training or validation
chunk covers in any recording of that song (each distinct second once, since the target of a second
is the same whatever EEG heard it); test examples are the decoder's reconstructions of the test chunks.
The true song of a test example is the song its recording heard. Chance is 1 / number of songs.

Inputs are first expressed as deviations from the mean training spectrogram and scaled to unit SD
per example (`SpectrogramNormalizer`). A regression decoder shrinks towards that mean; the
normalisation makes the classifier indifferent to how far, which is the domain gap between sharp true
spectra and smooth reconstructions. It is learned from true spectra only, never from reconstructions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reconstruct.errors import ParameterError
from reconstruct.evaluation.stats import accuracy_vs_chance
from reconstruct.split import CHUNK_S


@dataclass(frozen=True)
class ClassifierConfig:
    """Song-ID CNN settings; all are recorded in evaluation.json."""

    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    noise_sd: float = 1.0
    mix_max: float = 0.45
    freq_cells: int = 16
    max_bins: int = 128
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.freq_cells < 1 or self.max_bins < 8:
            raise ParameterError(f"bad classifier settings: {self}")

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


class SpectrogramNormalizer:
    """x ↦ (pool(x) − mean) / SD per example, with `mean` the mean training spectrogram [shape=(frames, bins')].

    Linear spectrograms (1025 bins) are average-pooled along frequency to at most `max_bins` first."""

    def __init__(self, max_bins: int = 128) -> None:
        self.max_bins = max_bins
        self.mean: np.ndarray | None = None

    def _pool(self, x: np.ndarray) -> np.ndarray:
        factor = -(-x.shape[-1] // self.max_bins)
        if factor == 1:
            return np.asarray(x, dtype=np.float32)
        n = x.shape[-1] // factor * factor
        return np.asarray(x[..., :n], dtype=np.float32).reshape(*x.shape[:-1], n // factor, factor).mean(-1)

    def fit(self, x: np.ndarray) -> SpectrogramNormalizer:
        """Learn the mean spectrogram of true training examples [shape=(n, frames, bins)]."""
        self.mean = self._pool(x).mean(axis=0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Normalised examples [shape=(n, frames, bins')], float32."""
        z = self._pool(x) - self.mean
        z /= z.reshape(len(z), -1).std(axis=1)[:, None, None] + 1e-4
        return z.astype(np.float32)


class SongCNN(nn.Module):
    """Average-pool 2 × 2, three conv blocks, then pooling over all of time but only partly over frequency (a song's timbre and
    key live at fixed frequencies, its rhythm anywhere in the second), then a linear read-out."""

    def __init__(self, n_songs: int, *, freq_cells: int = 16) -> None:
        super().__init__()
        # halve time and frequency first: song identity lives in broad spectral shape, and it keeps an
        # epoch to a few seconds on two CPU cores
        blocks: list[nn.Module] = [nn.AvgPool2d(2)]
        channels = 1
        for filters in (8, 16, 32):
            blocks += [nn.Conv2d(channels, filters, 3, padding=1), nn.BatchNorm2d(filters), nn.ReLU(),
                       nn.MaxPool2d(2)]
            channels = filters
        blocks[-1] = nn.AdaptiveAvgPool2d((1, freq_cells))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(channels * freq_cells, n_songs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [shape=(batch, n_songs)] of normalised spectrograms [shape=(batch, frames, bins)]."""
        return self.head(self.features(x.unsqueeze(1)))


class SongClassifier:
    """A trained song-ID classifier: normaliser + CNN, with predict / predict_proba."""

    def __init__(self, songs: list[str], normalizer: SpectrogramNormalizer, model: SongCNN,
                 config: ClassifierConfig) -> None:
        self.songs, self.normalizer, self.model, self.config = list(songs), normalizer, model.eval(), config

    def log_proba(self, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
        """Log class probabilities [shape=(n, n_songs)] of spectrograms in [0, 1]."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                z = torch.from_numpy(self.normalizer.transform(np.asarray(x[start:start + batch_size])))
                out.append(torch.log_softmax(self.model(z), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.songs)), np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most probable song index per example."""
        return self.log_proba(x).argmax(axis=1)

    def save(self, path: Path) -> None:
        """Write the model and its normaliser."""
        torch.save({"songs": self.songs, "mean": self.normalizer.mean, "max_bins": self.normalizer.max_bins,
                    "config": self.config.to_dict(), "state": self.model.state_dict()}, path)

    @classmethod
    def load(cls, path: Path) -> SongClassifier:
        """Read what `save` wrote."""
        payload = torch.load(path, map_location="cpu", weights_only=False)
        config = ClassifierConfig(**payload["config"])
        normalizer = SpectrogramNormalizer(payload["max_bins"])
        normalizer.mean = payload["mean"]
        model = SongCNN(len(payload["songs"]), freq_cells=config.freq_cells)
        model.load_state_dict(payload["state"])
        return cls(payload["songs"], normalizer, model, config)


def train_classifier(x: np.ndarray, labels: np.ndarray, songs: list[str], *,
                     config: ClassifierConfig = ClassifierConfig()) -> SongClassifier:
    """Fit the song-ID CNN on true spectrograms x [shape=(n, frames, bins)] with song indices `labels`.

    Training blends every example with a random other one (up to `mix_max` of it, the label staying
    with the larger share) and adds Gaussian noise of `noise_sd` (in normalised units), so the
    classifier relies on what dominates a spectrum, as a blurred, noisy reconstruction keeps it, not on
    fine detail. Only true spectra are used."""
    labels = np.asarray(labels)
    if len(x) != len(labels) or len(x) < 2:
        raise ParameterError(f"need >= 2 examples with one label each, got {len(x)} examples, {len(labels)} labels")
    if len(songs) < 2 or labels.min() < 0 or labels.max() >= len(songs):
        raise ParameterError(f"labels must index {len(songs)} songs (>= 2)")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    normalizer = SpectrogramNormalizer(config.max_bins).fit(x)
    xt = torch.from_numpy(normalizer.transform(x))
    yt = torch.from_numpy(labels.astype(np.int64))
    model = SongCNN(len(songs), freq_cells=config.freq_cells)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2:
                continue
            xb = xt[idx]
            if config.mix_max > 0:  # blend in another example, keep the label of the larger share
                share = config.mix_max * torch.rand(len(idx), 1, 1, generator=generator)
                partner = xt[torch.randint(0, len(xt), (len(idx),), generator=generator)]
                xb = (1 - share) * xb + share * partner
                xb = xb / (xb.flatten(1).std(dim=1)[:, None, None] + 1e-4)
            xb = xb + config.noise_sd * torch.randn(xb.shape, generator=generator)
            loss = loss_fn(model(xb), yt[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return SongClassifier(songs, normalizer, model, config)


def training_key(x: np.ndarray, labels: np.ndarray, config: ClassifierConfig) -> str:
    """A short hash of a classifier's training data and settings (to reuse a trained classifier)."""
    h = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    h.update(np.asarray(labels, np.int64).tobytes())
    h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    return h.hexdigest()[:16]


def cached_classifier(x: np.ndarray, labels: np.ndarray, songs: list[str], *, config: ClassifierConfig,
                      cache_dir: Path | None) -> SongClassifier:
    """Train a classifier, or load the one trained before on exactly these examples and settings."""
    if cache_dir is None:
        return train_classifier(x, labels, songs, config=config)
    path = Path(cache_dir) / f"classifier-{training_key(x, labels, config)}.pt"
    if path.exists():
        return SongClassifier.load(path)
    clf = train_classifier(x, labels, songs, config=config)
    path.parent.mkdir(parents=True, exist_ok=True)
    clf.save(path)
    return clf


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [shape=(n_classes, n_classes)]: rows true song, columns predicted song."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    return cm


def score_reconstructions(clf: SongClassifier, recon: np.ndarray, labels: np.ndarray, *,
                          chunk_ids: np.ndarray | None = None) -> dict:
    """Song-ID accuracy of reconstructions, per 1-s example (as the paper) and per 5-s chunk.

    A chunk's song is the one with the highest summed log-probability over its seconds; chunk accuracy
    counts fewer, more independent units (neighbouring seconds share a lot), so its CI is the honest one.

    Parameters
    ----------
    recon : np.ndarray [shape=(n, frames, bins)]
    labels : np.ndarray [shape=(n,)] true song index per example
    chunk_ids : np.ndarray [shape=(n,)], optional
        Any id shared by the examples of one test chunk; default: consecutive runs of CHUNK_S examples.
    """
    labels = np.asarray(labels)
    n_songs = len(clf.songs)
    logp = clf.log_proba(recon)
    pred = logp.argmax(axis=1)
    chance = 1.0 / n_songs
    if chunk_ids is None:
        chunk_ids = np.arange(len(labels)) // CHUNK_S
    _, inverse = np.unique(chunk_ids, return_inverse=True)
    chunk_logp = np.zeros((inverse.max() + 1, n_songs))
    np.add.at(chunk_logp, inverse, logp)
    chunk_label = np.zeros(inverse.max() + 1, dtype=np.int64)
    chunk_label[inverse] = labels
    chunk_pred = chunk_logp.argmax(axis=1)
    return {
        "per_example": accuracy_vs_chance(int((pred == labels).sum()), len(labels), chance),
        "per_chunk": accuracy_vs_chance(int((chunk_pred == chunk_label).sum()), len(chunk_label), chance),
        "confusion": confusion_matrix(labels, pred, n_songs).tolist(),
        "per_song_accuracy": {s: float((pred[labels == i] == i).mean()) if (labels == i).any() else None
                              for i, s in enumerate(clf.songs)},
        "songs": clf.songs,
    }
