"""The negative control of issue 28: at SNR 0 every field metric is at chance for every registered decoder
(Bonferroni over the family, so a true null passes), and the very same verdict fails on a leaky pipeline
(the reconstruction replaced by its truth), so the control can fail.

A tiny NMED-T-shaped set (every participant hears every song: the EEG's make-up does not name the song,
so song ID and N-way identification must be at chance too), the smallest settings each decoder's config
allows. A decoder registered later (e.g. ``contrastive``) is picked up from the registry."""

import pytest

from reconstruct.config import RunConfig, default_input
from reconstruct.decoders.registry import decoder_names
from reconstruct.evaluation.field_metrics import field_at_chance, field_metrics
from reconstruct.evaluation.identification import song_templates
from reconstruct.evaluation.time_specific import load_test_chunks, song_mean_baseline
from reconstruct.models.temporal import TemporalConfig
from reconstruct.run import run_all
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.train import TrainConfig

SIM = SimulatedDataConfig(shape="nmedt", n_songs=3, n_participants=2, duration_s=245, snr=0.0, n_channels=8)
TINY = {"train": TrainConfig(max_epochs=2, patience=1), "temporal": TemporalConfig(max_epochs=2, width=8, components=4)}


@pytest.fixture(scope="module")
def noise_runs(tmp_path_factory):
    """One run per registered decoder on the same SNR-0 set, up to its test predictions."""
    from reconstruct.evaluation.runs import share_upstream
    out = tmp_path_factory.mktemp("field-control")
    runs = {}
    for decoder in decoder_names():
        config = RunConfig(run_dir=out / decoder, simulation=SIM, decoder=decoder,
                           input_kind=default_input(decoder), **TINY)
        if runs:
            same = [r for r in runs.values() if r.input_kind == config.input_kind]
            share_upstream(same[0] if same else next(iter(runs.values())), config)
        run_all(config, until="predict", progress=False, log=lambda _: None)
        runs[decoder] = config
    return runs


def _verdicts(config: RunConfig, *, leaky: bool) -> dict[str, bool]:
    chunks = load_test_chunks(config)
    templates = song_templates(chunks, song_mean_baseline(config, chunks))
    recon = chunks.truth if leaky else chunks.recon
    return field_at_chance(field_metrics(chunks, recon, seed=config.select_seed, templates=templates))


@pytest.mark.parametrize("decoder", decoder_names())
def test_at_snr_0_every_field_metric_is_at_chance(noise_runs, decoder):
    verdicts = _verdicts(noise_runs[decoder], leaky=False)
    assert {"mm2", "mm5", "song_id_3s", "band_r", "idall_1s", "idall_3s", "idall_5s"} <= set(verdicts)
    assert all(verdicts.values()), {k: v for k, v in verdicts.items() if not v}


def test_the_control_fails_on_a_leaky_pipeline(noise_runs):
    verdicts = _verdicts(next(iter(noise_runs.values())), leaky=True)
    assert not any(verdicts.values())  # recon = truth: every metric far from chance, the control catches it
