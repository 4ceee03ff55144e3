"""The participant-fingerprint control on the NMED-H design: the EEG's make-up names the participant, and so
the song; the identity-only decoder shows what that alone scores; the other presentation is decoded unseen."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.config import RunConfig
from reconstruct.evaluation.fingerprint import fingerprint_control, format_fingerprint, second_features
from reconstruct.evaluation.runs import ensure_predictions
from reconstruct.simulate import SimulatedDataConfig


def _run(tmp_path_factory, name: str, **sim) -> RunConfig:
    config = RunConfig(run_dir=tmp_path_factory.mktemp(name) / "run", decoder="ridge", input_kind="raw",
                       ridge_alpha=1.0, simulation=SimulatedDataConfig(duration_s=245, n_channels=16, **sim))
    return ensure_predictions(config, progress=False)


@pytest.fixture(scope="module")
def noise_only(tmp_path_factory) -> dict:
    """NMED-H design at SNR 0: nothing of the music in the EEG, only who is listening."""
    return fingerprint_control(_run(tmp_path_factory, "nmedh0", n_songs=2, n_participants=3, snr=0.0))


def test_the_eeg_names_the_participant_without_any_music(noise_only):
    pid = noise_only["participant_id"]
    assert noise_only["design"] == "one song per participant" and noise_only["n_participants"] == 6
    assert pid["above_chance"] and pid["song_from_participant"]["above_chance"]
    assert noise_only["participant_id_other_presentation"]["n"] == pid["n"]


def test_identity_alone_passes_the_different_song_test_but_not_the_same_song_one(noise_only):
    ident = noise_only["identity_only"]
    assert ident["different_song"]["accuracy"] > 0.8
    assert ident["same_song"]["chance_in_ci95"] and ident["span_id"]["top1"]["at_chance"]
    assert noise_only["identity_explains_different_song"]
    assert any("cannot tell decoding from" in line for line in format_fingerprint(noise_only))


def test_the_other_presentation_is_decoded_by_a_model_that_never_saw_it(noise_only):
    other = noise_only["other_presentation"]
    assert other["n_test_chunks"] == noise_only["participant_id"]["n"]
    assert other["at_chance"]["same_song"] and other["at_chance"]["top1"]


def test_no_identity_only_decoder_where_participants_heard_every_song(tmp_path_factory):
    fp = fingerprint_control(_run(tmp_path_factory, "nmedt", shape="nmedt", n_songs=2, n_participants=2, snr=0.5))
    assert fp["design"] == "participants heard several songs" and "skipped" in fp["identity_only"]
    assert "song_from_participant" not in fp["participant_id"] and "other_presentation" not in fp


def test_second_features_are_means_and_log_variances():
    eeg = np.stack([np.full(250, 3.0), np.r_[np.zeros(125), np.ones(125) * 2]])
    f = second_features(eeg)
    assert f.shape == (2, 4) and np.allclose(f[:, 0], 3.0) and np.allclose(f[:, 1], [0, 2])
