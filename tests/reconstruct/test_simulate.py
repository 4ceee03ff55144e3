"""The simulated data set: named so, distinct songs, envelopes in the EEG at SNR > 0 and none at SNR 0."""

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.simulate import (
    SimulatedDataConfig,
    band_envelopes,
    onset_drive,
    recording_plan,
    simulate_dataset,
    simulate_parts,
    synthesize_songs,
)


@pytest.fixture(scope="module")
def small():
    return SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=20, snr=4.0, seed=3)


@pytest.fixture(scope="module")
def dataset(small):
    return simulate_dataset(small, progress=False)


def test_shape_and_label(dataset, small):
    assert dataset.simulated and "simulated" in dataset.name
    assert len(dataset.recordings) == 4 and dataset.songs == ["song1", "song2"]
    r = dataset.recordings[0]
    assert r.eeg.shape == (125, 20 * 125) and r.eeg.dtype == np.float32 and r.fs == 125
    assert len(dataset.audio["song1"]) == 20 * 22050


def test_songs_differ_in_tempo_key_and_timbre(dataset):
    songs = dataset.meta["songs"]
    assert len({s["bpm"] for s in songs}) == len({s["root_midi"] for s in songs}) == len(songs)
    a, b = (band_envelopes(dataset.audio[s], sr=22050, n_bands=16) for s in ("song1", "song2"))
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.5


def _envelope_fit(recording, env) -> float:
    """Best R² of any channel regressed on the lagged band envelopes."""
    n = recording.eeg.shape[1]
    lagged = np.concatenate([np.roll(env[:, :n], lag, axis=1) for lag in range(10, 26, 3)])
    coef, *_ = np.linalg.lstsq(lagged.T, recording.eeg.T, rcond=None)
    resid = recording.eeg.T - lagged.T @ coef
    return float(1 - resid.var() / recording.eeg.T.var())


def test_eeg_carries_its_own_song_more_than_the_other(dataset):
    env = {s: band_envelopes(dataset.audio[s], sr=22050, n_bands=16) for s in dataset.songs}
    for r in dataset.recordings:
        other = [s for s in dataset.songs if s != r.song][0]
        assert _envelope_fit(r, env[r.song]) > _envelope_fit(r, env[other]) + 0.05


def test_snr_zero_is_noise_only(small):
    ds = simulate_dataset(SimulatedDataConfig(**{**small.__dict__, "snr": 0.0}), progress=False)
    env = {s: band_envelopes(ds.audio[s], sr=22050, n_bands=16) for s in ds.songs}
    for r in ds.recordings:
        other = [s for s in ds.songs if s != r.song][0]
        assert abs(_envelope_fit(r, env[r.song]) - _envelope_fit(r, env[other])) < 0.05


def test_deterministic(small):
    a, b = (simulate_dataset(small, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a.recordings[3].eeg, b.recordings[3].eeg)


@pytest.mark.parametrize("kwargs", [{"snr": -1}, {"shape": "nmedx"}, {"duration_s": 5}, {"presentations": "c"},
                                    {"fingerprint": -1}, {"response": "quadratic"}, {"meter": "swing"}])
def test_bad_simulation_settings(kwargs):
    with pytest.raises(ParameterError):
        SimulatedDataConfig(**kwargs)


def test_nmedh_design_one_song_per_participant_heard_twice():
    config = SimulatedDataConfig(n_songs=4, n_participants=3, duration_s=10)
    plan = recording_plan(config)
    assert config.participants == 12 and len(plan) == 24
    songs_of = {}
    for p in plan:
        songs_of.setdefault(p.participant, set()).add(p.song)
    assert all(len(s) == 1 for s in songs_of.values()) and len(songs_of) == 12
    assert {p.presentation for p in plan if p.held_out} == {"b"} and sum(p.held_out for p in plan) == 12
    assert not any(p.held_out for p in recording_plan(SimulatedDataConfig(presentations="both", duration_s=10)))


def test_nmedt_design_every_participant_hears_every_song():
    plan = recording_plan(SimulatedDataConfig(shape="nmedt", n_songs=3, n_participants=2, duration_s=10))
    assert [(p.participant, p.song) for p in plan] == [(p, s) for p in range(2) for s in range(3)]


def test_held_out_presentation_is_the_same_participant_and_song_with_its_own_fingerprint(dataset):
    assert [(r.participant, r.song) for r in dataset.held_out] == [(r.participant, r.song) for r in dataset.recordings]
    profile = [np.log(r.eeg.var(axis=1)) for r in (dataset.recordings[0], dataset.held_out[0], dataset.recordings[1])]
    same, other = np.corrcoef(profile)[0, 1:]
    assert same > 0.9 and other < same - 0.2, (same, other)  # the participant's make-up carries over
    assert not np.allclose(dataset.recordings[0].eeg.mean(axis=1), dataset.held_out[0].eeg.mean(axis=1))


def test_fingerprint_zero_removes_the_participants_make_up(small):
    def spread(**kw) -> float:  # how much the participants' channel-variance profiles differ
        ds = simulate_dataset(SimulatedDataConfig(**{**small.__dict__, "snr": 0.0, **kw}), progress=False)
        return float(np.std([np.log(r.eeg.var(axis=1)) for r in ds.recordings], axis=0).mean())
    assert spread() > 2 * spread(fingerprint=0.0)


def test_a_smaller_set_holds_exactly_the_same_recordings(small):
    big = simulate_dataset(SimulatedDataConfig(**{**small.__dict__, "n_participants": 3}), progress=False)
    a = {(r.participant, r.song): r.eeg for r in simulate_dataset(small, progress=False).recordings}
    b = {(r.participant, r.song): r.eeg for r in big.recordings}
    np.testing.assert_array_equal(a[("p01", "song1")], b[("p01", "song1")])


def _linear_share(config: SimulatedDataConfig) -> float:
    """R² of the music-driven part from the best lagged linear map of the band envelopes (0-250 ms)."""
    songs = synthesize_songs(config, progress=False)
    part = next(simulate_parts(config, songs, progress=False))
    env = songs.envelopes[part.song]
    n = part.signal.shape[1]
    lagged = np.concatenate([np.concatenate([np.zeros((env.shape[0], k)), env[:, :n - k]], axis=1)
                             for k in range(0, 32, 2)])
    coef, *_ = np.linalg.lstsq(lagged.T, part.signal.T, rcond=None)
    return float(1 - (part.signal.T - lagged.T @ coef).var() / part.signal.T.var())


def test_the_response_is_not_a_lagged_linear_model():
    common = dict(n_songs=1, n_participants=1, duration_s=60, n_channels=16, fingerprint=0.0)
    linear = _linear_share(SimulatedDataConfig(response="linear", **common))
    nonlinear = _linear_share(SimulatedDataConfig(**common))
    assert linear > 0.95 and nonlinear < linear - 0.1, (linear, nonlinear)


def test_onset_drive_adapts_to_repeated_onsets():
    env = np.zeros((1, 1000))
    env[0, 100::20] = 1.0  # a click every 160 ms
    drive = onset_drive(env)[0]
    assert drive[100] > 2 * drive[100 + 20 * 10]


def _periodicity(y: np.ndarray, sr: int, period_s: float) -> float:
    """Autocorrelation of the onset-strength envelope at a lag of `period_s` (1 = perfectly periodic)."""
    import librosa
    hop = 80
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    ac = librosa.autocorrelate(env - env.mean())
    lag = int(round(period_s * sr / hop))
    return float(ac[lag - 1:lag + 2].max() / ac[0])


def test_a_loose_meter_has_no_steady_beat_and_a_steady_song_is_unchanged_by_the_option():
    from reconstruct.synth import song_specs, synthesize_song
    spec = song_specs(2, seed=0)[0]
    steady = synthesize_song(spec, duration_s=60, sr=8000)
    assert np.array_equal(steady, synthesize_song(spec, duration_s=60, sr=8000, meter="steady"))
    loose = synthesize_song(spec, duration_s=60, sr=8000, meter="loose")
    bars = 16 * 60.0 / spec.bpm  # one turn of the 4-bar chord cycle (16 beats)
    assert _periodicity(steady, 8000, bars) > 0.4 > 0.15 > _periodicity(loose, 8000, bars)


def test_meter_is_left_out_of_the_stage_parameters_where_steady_so_older_runs_stay_valid(tmp_path):
    from reconstruct.config import RunConfig
    from reconstruct.stages import stage_params
    steady = stage_params(RunConfig(run_dir=tmp_path), "load")["simulation"]
    loose = stage_params(RunConfig(run_dir=tmp_path, simulation=SimulatedDataConfig(meter="loose")), "load")["simulation"]
    assert "meter" not in steady and loose["meter"] == "loose"
