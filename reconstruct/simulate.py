"""The simulated data set: synthetic songs and 125-channel EEG that carries their band envelopes in noise.

Every recording is one simulated participant hearing one song. The EEG is
``gain · A_p · env_song(t − lag) + noise_p`` where ``env_song`` are log band envelopes of the song, ``A_p``
a participant's random spatial mixing, and ``noise_p`` realistic background activity (1/f, alpha, blinks,
line noise). Each participant hears every song, so nothing about a participant's noise tells the song:
at SNR 0 (noise only) every decoder must fall to chance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import librosa
import numpy as np
from scipy import signal
from tqdm.auto import tqdm

from reconstruct.errors import ParameterError
from reconstruct.recording import AUDIO_SR, EEG_FS, Dataset, Recording
from reconstruct.synth import song_specs, synthesize_song

SHAPES = {"nmedh": (4, 12), "nmedt": (10, 20)}
ENVELOPE_SCALE = 3.0  # typical std of a log-mel band envelope, in natural-log units


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that fixes a simulated data set; stored in every manifest made from it."""

    shape: str = "nmedh"
    n_songs: int | None = None
    n_participants: int | None = None
    duration_s: float = 245.0
    snr: float = 0.4
    n_channels: int = 125
    n_bands: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ParameterError(f"shape={self.shape!r} must be one of {sorted(SHAPES)}")
        if self.snr < 0:
            raise ParameterError(f"snr={self.snr} must be >= 0 (0 is the noise-only control)")
        if self.duration_s < 10:
            raise ParameterError(f"duration_s={self.duration_s} must be >= 10")

    @property
    def songs(self) -> int:
        """Number of songs (shape default unless overridden)."""
        return self.n_songs or SHAPES[self.shape][0]

    @property
    def participants(self) -> int:
        """Number of participants (shape default unless overridden)."""
        return self.n_participants or SHAPES[self.shape][1]

    @property
    def name(self) -> str:
        """Data-set name; always says 'simulated'."""
        return f"simulated-{self.shape}-snr{self.snr:g}"

    def to_dict(self) -> dict:
        """Plain dict for manifests."""
        return {**asdict(self), "n_songs": self.songs, "n_participants": self.participants, "name": self.name}


def band_envelopes(y: np.ndarray, *, sr: int, n_bands: int, fs: int = EEG_FS) -> np.ndarray:
    """Log band envelopes of audio at the EEG rate [shape=(n_bands, samples)], centred per band.

    Bands are not scaled one by one: how strongly a band fluctuates (drums vs pads) is part of a song's
    identity, and the EEG should carry it as cortical envelope tracking does."""
    hop = 441  # 50 Hz frames at 22 050 Hz
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=hop, n_mels=n_bands, fmax=8000)
    env = np.log(mel + 1e-6)
    env = signal.resample_poly(env, fs, sr // hop, axis=1)
    env -= env.mean(axis=1, keepdims=True)
    return (env / ENVELOPE_SCALE).astype(np.float32)


def _pink(rng: np.random.Generator, n_sources: int, n: int) -> np.ndarray:
    spectrum = rng.standard_normal((n_sources, n // 2 + 1)) + 1j * rng.standard_normal((n_sources, n // 2 + 1))
    freqs = np.fft.rfftfreq(n, d=1.0 / EEG_FS)
    spectrum /= np.sqrt(np.maximum(freqs, 0.5))
    x = np.fft.irfft(spectrum, n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


@dataclass(frozen=True)
class Head:
    """One participant's fixed spatial make-up: how sources and artefacts reach each channel.

    Drawn once per participant and shared by all of their recordings, so a recording's noise carries
    no fingerprint of the song being heard (the classic leak of within-recording splits)."""

    signal_mixing: np.ndarray
    lags: np.ndarray
    noise_mixing: np.ndarray
    occipital: np.ndarray
    frontal: np.ndarray
    line: np.ndarray
    alpha_hz: float


def draw_head(rng: np.random.Generator, *, n_channels: int, n_bands: int, n_sources: int = 24) -> Head:
    """Draw one participant's head model."""
    n_occipital, n_frontal = min(30, n_channels), min(10, n_channels)
    occipital = np.zeros(n_channels)
    occipital[-n_occipital:] = rng.uniform(0.5, 1.5, n_occipital)
    frontal = np.zeros(n_channels)
    frontal[:n_frontal] = rng.uniform(2, 5, n_frontal)
    return Head(
        signal_mixing=rng.standard_normal((n_channels, n_bands)),
        lags=rng.integers(int(0.08 * EEG_FS), int(0.2 * EEG_FS), n_bands),
        noise_mixing=rng.standard_normal((n_channels, n_sources)) / np.sqrt(n_sources),
        occipital=occipital, frontal=frontal, line=rng.uniform(0.05, 0.3, n_channels),
        alpha_hz=float(rng.uniform(8.5, 11.5)))


def background_eeg(rng: np.random.Generator, head: Head, n: int) -> np.ndarray:
    """Background EEG through `head`: 1/f sources, alpha bursts, blinks, 50 Hz line noise [unit variance]."""
    n_channels, n_src = head.noise_mixing.shape
    eeg = head.noise_mixing @ _pink(rng, n_src, n) + 0.3 * rng.standard_normal((n_channels, n))
    t = np.arange(n) / EEG_FS
    alpha_env = np.clip(_pink(rng, 1, n)[0], 0, None)
    alpha_env = signal.filtfilt(*signal.butter(2, 0.5, fs=EEG_FS), alpha_env)
    eeg += np.outer(head.occipital, alpha_env * np.sin(2 * np.pi * head.alpha_hz * t))
    blinks = np.zeros(n)
    blink = signal.windows.hann(int(0.3 * EEG_FS))
    for onset in rng.choice(n - len(blink), size=max(1, int(n / EEG_FS / 4)), replace=False):
        blinks[onset:onset + len(blink)] += blink
    eeg += np.outer(head.frontal, blinks)
    eeg += np.outer(head.line, np.sin(2 * np.pi * 50 * t + rng.uniform(0, 2 * np.pi)))
    return eeg / eeg.std()


def lagged_signal(env: np.ndarray, head: Head) -> np.ndarray:
    """The EEG's music-driven part [shape=(channels, samples)]: lagged band envelopes mixed by `head`, unit std."""
    n = env.shape[1]
    lagged = np.stack([np.concatenate([np.zeros(lag), band[: n - lag]]) for band, lag in zip(env, head.lags)])
    sig = head.signal_mixing @ lagged
    return sig / (sig.std() + 1e-12)


def mix(signal_part: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """EEG float32 at `snr` (signal-to-noise power ratio) from its unit-power parts."""
    return (np.sqrt(snr) * signal_part + noise).astype(np.float32)


@dataclass
class SimulatedSongs:
    """The synthesised songs, their audio and the band envelopes the EEG follows."""

    specs: list
    audio: dict[str, np.ndarray]
    envelopes: dict[str, np.ndarray]


def synthesize_songs(config: SimulationConfig, *, progress: bool = True) -> SimulatedSongs:
    """Synthesise the set's songs and their EEG-rate band envelopes."""
    specs = song_specs(config.songs, seed=config.seed)
    audio, envs = {}, {}
    for spec in tqdm(specs, desc="synthesising songs", disable=not progress):
        audio[spec.name] = synthesize_song(spec, duration_s=config.duration_s, sr=AUDIO_SR)
        envs[spec.name] = band_envelopes(audio[spec.name], sr=AUDIO_SR, n_bands=config.n_bands)
    return SimulatedSongs(specs=specs, audio=audio, envelopes=envs)


def simulate_parts(config: SimulationConfig, songs: SimulatedSongs, *,
                   progress: bool = True) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """(participant, song, signal part, background) per recording, in the data set's order and with its
    exact random draws, so any SNR of the same set is `mix(signal, background, snr)`."""
    rng = np.random.default_rng(config.seed + 1)
    n_samples = int(config.duration_s * EEG_FS)
    for p in tqdm(range(config.participants), desc="simulating EEG", disable=not progress):
        head = draw_head(rng, n_channels=config.n_channels, n_bands=config.n_bands)
        for spec in songs.specs:
            env = songs.envelopes[spec.name][:, :n_samples]
            yield f"p{p + 1:02d}", spec.name, lagged_signal(env, head), background_eeg(rng, head, env.shape[1])


def simulate_dataset(config: SimulationConfig, *, progress: bool = True) -> Dataset:
    """Build the simulated data set (songs + one recording per participant × song), fully seeded."""
    songs = synthesize_songs(config, progress=progress)
    recordings = [Recording(eeg=mix(sig, noise, config.snr), fs=EEG_FS, participant=participant, song=song)
                  for participant, song, sig, noise in simulate_parts(config, songs, progress=progress)]
    return Dataset(name=config.name, simulated=True, recordings=recordings, audio=songs.audio, sr=AUDIO_SR,
                   meta={"simulation": config.to_dict(), "songs": [s.to_dict() for s in songs.specs]})
