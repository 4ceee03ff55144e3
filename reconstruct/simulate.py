"""The simulated data set: synthetic songs and 125-channel EEG that responds to them, in realistic noise.

Each shape follows its real data set's design. NMED-T: every participant hears every song once. NMED-H:
each EEG participant hears exactly one song (12 per song, 48 in all), twice (presentations ``a`` and
``b``), so participant identity gives the song away, as on the real data set.

The EEG is ``gains_r · (√snr · s(t) + noise_p(t)) + drift_r(t) + offset_r`` where the music-driven part
``s`` is not any decoder's own model (see `response`): compressed band envelopes through band-specific
latencies and kernels, plus adapting onset responses to spectral flux, under a slowly drifting gain.
``noise_p`` is a participant's background activity (1/f sources, alpha, blinks, line noise, sensor
noise with the participant's own spatial profile). ``gains_r``, ``drift_r`` and ``offset_r`` are the
recording's fingerprint: channel gains, slow drifts and DC offsets. At SNR 0 (noise only) every decoder
must fall to chance on everything but what identity tells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import NamedTuple

import librosa
import numpy as np
from scipy import signal
from tqdm.auto import tqdm

from reconstruct.errors import ParameterError
from reconstruct.recording import AUDIO_SR, EEG_FS, Dataset, Recording
from reconstruct.synth import METERS, song_specs, synthesize_song

SHAPES = {"nmedh": (4, 12), "nmedt": (10, 20)}  # (songs, participants: per song on NMED-H, in all on NMED-T)
DESIGNS = {"nmedh": "one song per participant, heard twice", "nmedt": "every participant hears every song"}
PRESENTATIONS = ("holdout-b", "both", "a")
RESPONSES = ("nonlinear", "linear")
ENVELOPE_SCALE = 3.0  # typical std of a log-mel band envelope, in natural-log units


@dataclass(frozen=True)
class SimulatedDataConfig:
    """Everything that fixes a simulated data set; stored in every manifest made from it.

    ``n_participants`` counts participants per song on the NMED-H shape (each hears one song) and in
    all on the NMED-T shape (each hears every song). ``presentations`` (NMED-H): ``holdout-b`` keeps the
    second hearing out of training as a test presentation, ``both`` trains on both, ``a`` simulates one.
    ``fingerprint`` scales the per-participant and per-recording make-up (0: none). ``response="linear"``
    is the old lagged-linear generator, kept to show how it flatters a linear decoder. ``meter="loose"``
    (songs without a steady tempo or chord cycle) is a diagnostic for the circularly shifted control."""

    shape: str = "nmedh"
    n_songs: int | None = None
    n_participants: int | None = None
    duration_s: float = 245.0
    snr: float = 0.4
    n_channels: int = 125
    n_bands: int = 16
    seed: int = 0
    presentations: str = "holdout-b"
    fingerprint: float = 1.0
    response: str = "nonlinear"
    meter: str = "steady"

    def __post_init__(self) -> None:
        checks = [(self.shape in SHAPES, f"shape={self.shape!r} must be one of {sorted(SHAPES)}"),
                  (self.snr >= 0, f"snr={self.snr} must be >= 0 (0 is the noise-only control)"),
                  (self.duration_s >= 10, f"duration_s={self.duration_s} must be >= 10"),
                  (self.presentations in PRESENTATIONS, f"presentations={self.presentations!r} must be one "
                                                        f"of {list(PRESENTATIONS)}"),
                  (self.fingerprint >= 0, f"fingerprint={self.fingerprint} must be >= 0"),
                  (self.response in RESPONSES, f"response={self.response!r} must be one of {list(RESPONSES)}"),
                  (self.meter in METERS, f"meter={self.meter!r} must be one of {list(METERS)}")]
        for ok, message in checks:
            if not ok:
                raise ParameterError(message)

    @property
    def songs(self) -> int:
        """Number of songs (shape default unless overridden)."""
        return self.n_songs or SHAPES[self.shape][0]

    @property
    def per_song(self) -> bool:
        """True on the NMED-H design: each participant hears one song."""
        return self.shape == "nmedh"

    @property
    def participants(self) -> int:
        """Number of EEG participants in all."""
        n = self.n_participants or SHAPES[self.shape][1]
        return n * self.songs if self.per_song else n

    @property
    def name(self) -> str:
        """Data-set name; always says 'simulated'."""
        return f"simulated-{self.shape}-snr{self.snr:g}"

    def to_dict(self) -> dict:
        """Plain dict for manifests."""
        return {**asdict(self), "n_songs": self.songs, "n_participants": self.participants, "name": self.name,
                "design": DESIGNS[self.shape]}


class PlannedRecording(NamedTuple):
    """Who hears what in one simulated recording."""

    participant: int
    song: int
    presentation: str
    held_out: bool


def recording_plan(config: SimulatedDataConfig) -> list[PlannedRecording]:
    """Every recording of the set in its order: the design of the shape, as on the real data set."""
    if not config.per_song:
        return [PlannedRecording(p, s, "", False) for p in range(config.participants) for s in range(config.songs)]
    per = config.participants // config.songs
    letters = ("a",) if config.presentations == "a" else ("a", "b")
    return [PlannedRecording(song * per + i, song, letter, config.presentations == "holdout-b" and letter == "b")
            for song in range(config.songs) for i in range(per) for letter in letters]


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


def _slow(rng: np.random.Generator, n_sources: int, n: int, cutoff_hz: float) -> np.ndarray:
    """Unit-std noise below `cutoff_hz` [shape=(n_sources, n)]."""
    x = signal.sosfiltfilt(signal.butter(2, cutoff_hz, fs=EEG_FS, output="sos"), rng.standard_normal((n_sources, n)))
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


@dataclass(frozen=True)
class Head:
    """One participant's fixed make-up: how responses, sources and artefacts reach each channel.

    Drawn once per participant and shared by all of their recordings. On the NMED-H design it is also a
    fingerprint of the song they heard, which is the point: a decoder that recognises the head cheats."""

    signal_mixing: np.ndarray
    onset_mixing: np.ndarray
    lags: np.ndarray
    noise_mixing: np.ndarray
    sensor_noise: np.ndarray
    gains: np.ndarray
    occipital: np.ndarray
    frontal: np.ndarray
    line: np.ndarray
    alpha_hz: float


def draw_head(rng: np.random.Generator, *, n_channels: int, n_bands: int, n_sources: int = 100,
              fingerprint: float = 1.0) -> Head:
    """Draw one participant's head model."""
    n_occipital, n_frontal = min(30, n_channels), min(10, n_channels)
    occipital = np.zeros(n_channels)
    occipital[-n_occipital:] = rng.uniform(0.5, 1.5, n_occipital)
    frontal = np.zeros(n_channels)
    frontal[:n_frontal] = rng.uniform(2, 5, n_frontal)
    central = np.exp(-((np.arange(n_channels) - n_channels / 2) / (n_channels / 4)) ** 2)
    base_latency = rng.uniform(0.09, 0.13)  # s; low bands answer later than high ones
    band_latency = base_latency + 0.05 * (1 - np.arange(n_bands) / max(1, n_bands - 1))
    band_latency += rng.uniform(-0.01, 0.01, n_bands)
    return Head(
        signal_mixing=rng.standard_normal((n_channels, n_bands)),
        onset_mixing=central[:, None] * rng.uniform(0.5, 1.5, (1, n_bands))
        + 0.5 * rng.standard_normal((n_channels, n_bands)),
        lags=np.round(band_latency * EEG_FS).astype(int),
        noise_mixing=rng.standard_normal((n_channels, n_sources)) / np.sqrt(n_sources),
        sensor_noise=0.3 * np.exp(fingerprint * 0.5 * rng.standard_normal(n_channels)),
        gains=np.exp(fingerprint * 0.2 * rng.standard_normal(n_channels)),
        occipital=occipital, frontal=frontal, line=rng.uniform(0.05, 0.3, n_channels),
        alpha_hz=float(rng.uniform(8.5, 11.5)))


def background_eeg(rng: np.random.Generator, head: Head, n: int) -> np.ndarray:
    """Background EEG through `head`: 1/f sources, alpha bursts, blinks, 50 Hz line noise, the participant's
    own sensor noise [unit variance]."""
    n_channels, n_src = head.noise_mixing.shape
    eeg = head.noise_mixing @ _pink(rng, n_src, n) + head.sensor_noise[:, None] * rng.standard_normal((n_channels, n))
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


def _delay(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Each row of `x` delayed by its own number of samples (zeros before)."""
    n = x.shape[1]
    return np.stack([np.concatenate([np.zeros(lag), row[: n - lag]]) for row, lag in zip(x, lags)])


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (x.std() + 1e-12)


def lagged_signal(env: np.ndarray, head: Head) -> np.ndarray:
    """The old generator's music-driven part [shape=(channels, samples)]: lagged band envelopes mixed by
    `head`, unit std (a lagged linear model: the backward model's own)."""
    return _unit(head.signal_mixing @ _delay(env, head.lags))


_ERP_T = np.arange(int(0.35 * EEG_FS)) / EEG_FS
ERP_KERNEL = (np.exp(-((_ERP_T - 0.05) / 0.015) ** 2) - 1.5 * np.exp(-((_ERP_T - 0.10) / 0.02) ** 2)
              + 0.8 * np.exp(-((_ERP_T - 0.18) / 0.035) ** 2))  # P1, N1, P2 of an auditory onset response
_ENV_KERNEL = np.exp(-((_ERP_T - 0.02) / 0.02) ** 2) - 0.4 * np.exp(-((_ERP_T - 0.12) / 0.04) ** 2)


def onset_drive(env: np.ndarray, *, tau_s: float = 0.6, strength: float = 3.0) -> np.ndarray:
    """Adapted onset drive per band: half-wave rectified spectral flux, divided by its own recent history
    (a response to a sound shrinks after similar sounds; recovers over `tau_s`)."""
    flux = np.maximum(np.diff(env, axis=1, prepend=env[:, :1]), 0.0)
    flux /= flux.mean(axis=1, keepdims=True) + 1e-12
    alpha = 1.0 / (tau_s * EEG_FS)
    history = signal.lfilter([alpha], [1.0, alpha - 1.0], flux, axis=1)
    history = np.concatenate([np.zeros((env.shape[0], 1)), history[:, :-1]], axis=1)
    drive = flux / (1.0 + strength * history)
    return drive / (drive.std(axis=1, keepdims=True) + 1e-12)


def response(env: np.ndarray, head: Head, gain_drift: np.ndarray) -> np.ndarray:
    """The music-driven part [shape=(channels, samples)], unit std: no decoder's own model.

    Compressed band envelopes (tanh) through band-specific latencies and a biphasic kernel, plus adapting
    onset responses (P1-N1-P2) to spectral flux with their own topography, all under a slowly drifting gain
    (attention)."""
    tracked = signal.fftconvolve(_delay(np.tanh(1.5 * env), head.lags), _ENV_KERNEL[None], axes=1)
    onsets = signal.fftconvolve(_delay(onset_drive(env), head.lags - head.lags.min()), ERP_KERNEL[None], axes=1)
    n = env.shape[1]
    part = _unit(head.signal_mixing @ tracked[:, :n]) + _unit(head.onset_mixing @ onsets[:, :n])
    return _unit(part * gain_drift)


@dataclass(frozen=True)
class RecordingPrint:
    """One recording's own make-up on top of its participant's: channel gains, slow drifts, DC offsets."""

    gains: np.ndarray
    drift: np.ndarray
    offsets: np.ndarray
    attention: np.ndarray


def draw_print(rng: np.random.Generator, head: Head, n: int, *, fingerprint: float) -> RecordingPrint:
    """Draw a recording's fingerprint (electrode gains shift between sessions; drifts and offsets differ)."""
    n_channels = head.gains.shape[0]
    drift_sources = _slow(rng, 3, n, 0.05)
    return RecordingPrint(
        gains=head.gains * np.exp(fingerprint * 0.01 * rng.standard_normal(n_channels)),
        drift=fingerprint * 0.05 * (rng.standard_normal((n_channels, 3)) / np.sqrt(3)) @ drift_sources,
        offsets=fingerprint * 0.05 * rng.standard_normal(n_channels),
        attention=np.exp(0.3 * _slow(rng, 1, n, 0.02)[0]))


def mix(signal_part: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """EEG float32 at `snr` (signal-to-noise power ratio) from its parts (both already through the
    recording's gains, the noise carrying its drift and offsets)."""
    return (np.sqrt(snr) * signal_part + noise).astype(np.float32)


@dataclass
class SimulatedSongs:
    """The synthesised songs, their audio and the band envelopes the EEG follows."""

    specs: list
    audio: dict[str, np.ndarray]
    envelopes: dict[str, np.ndarray]


def synthesize_songs(config: SimulatedDataConfig, *, progress: bool = True) -> SimulatedSongs:
    """Synthesise the set's songs and their EEG-rate band envelopes."""
    specs = song_specs(config.songs, seed=config.seed)
    audio, envs = {}, {}
    for spec in tqdm(specs, desc="synthesising songs", disable=not progress):
        audio[spec.name] = synthesize_song(spec, duration_s=config.duration_s, sr=AUDIO_SR, meter=config.meter)
        envs[spec.name] = band_envelopes(audio[spec.name], sr=AUDIO_SR, n_bands=config.n_bands)
    return SimulatedSongs(specs=specs, audio=audio, envelopes=envs)


class SimulatedPart(NamedTuple):
    """One recording in two parts, so any SNR of the same set is ``mix(signal, background, snr)``."""

    participant: str
    song: str
    presentation: str
    held_out: bool
    signal: np.ndarray
    background: np.ndarray


def simulate_recording(config: SimulatedDataConfig, songs: SimulatedSongs, planned: PlannedRecording) -> SimulatedPart:
    """Simulate one planned recording; its draws depend only on the seed and who hears what, so a smaller
    set (fewer participants or songs) holds exactly the same recordings."""
    head = draw_head(np.random.default_rng([config.seed + 1, planned.participant]), n_channels=config.n_channels,
                     n_bands=config.n_bands, fingerprint=config.fingerprint)
    rng = np.random.default_rng([config.seed + 1, planned.participant, planned.song + 1,
                                 ord(planned.presentation or "-")])
    song = songs.specs[planned.song].name
    env = songs.envelopes[song][:, :int(config.duration_s * EEG_FS)]
    n = env.shape[1]
    fp = draw_print(rng, head, n, fingerprint=config.fingerprint)
    sig = lagged_signal(env, head) if config.response == "linear" else response(env, head, fp.attention)
    background = background_eeg(rng, head, n) + fp.drift + fp.offsets[:, None]
    return SimulatedPart(f"p{planned.participant + 1:02d}", song, planned.presentation, planned.held_out,
                         fp.gains[:, None] * sig, fp.gains[:, None] * background)


def simulate_parts(config: SimulatedDataConfig, songs: SimulatedSongs, *, held_out: bool = True,
                   progress: bool = True) -> Iterator[SimulatedPart]:
    """Every recording of the set in its two parts, in the data set's order (held-out presentations too,
    unless `held_out` is False)."""
    plan = [p for p in recording_plan(config) if held_out or not p.held_out]
    for planned in tqdm(plan, desc="simulating EEG", disable=not progress):
        yield simulate_recording(config, songs, planned)


def simulate_dataset(config: SimulatedDataConfig, *, progress: bool = True) -> Dataset:
    """Build the simulated data set in its shape's design, fully seeded."""
    songs = synthesize_songs(config, progress=progress)
    recordings, held_out = [], []
    for part in simulate_parts(config, songs, progress=progress):
        rec = Recording(eeg=mix(part.signal, part.background, config.snr), fs=EEG_FS, participant=part.participant,
                        song=part.song, presentation=part.presentation)
        (held_out if part.held_out else recordings).append(rec)
    return Dataset(name=config.name, simulated=True, recordings=recordings, audio=songs.audio, sr=AUDIO_SR,
                   held_out=held_out,
                   meta={"simulation": config.to_dict(), "songs": [s.to_dict() for s in songs.specs]})
