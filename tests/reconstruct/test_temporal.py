"""The temporal decoder: ±1 s of context, a spatial layer per participant, shared weights after it."""

import numpy as np
import pytest
import torch

from reconstruct.errors import ParameterError
from reconstruct.models.temporal import TemporalConfig, TemporalDecoder
from reconstruct.segments import FRAMES_PER_S


def _model(**kw):
    torch.manual_seed(0)
    config = TemporalConfig(width=8, components=3, **kw)
    return TemporalDecoder(2, 5, 4, config).eval(), config


def test_context_is_about_one_second_each_side():
    model, config = _model()
    assert config.context_frames == 45 and abs(config.context_frames / FRAMES_PER_S - 1.0) < 0.05
    x = torch.zeros(1, 5, 220)
    base = model(x, torch.tensor([0]))
    x[0, :, 110] = 5.0  # an impulse in the middle of a 5-s segment
    moved = (model(x, torch.tensor([0])) - base).abs().sum(-1)[0].detach().numpy()
    changed = np.flatnonzero(moved > 1e-6)
    assert changed.min() >= 110 - 45 and changed.max() <= 110 + 45 and len(changed) > 45


def test_each_participant_has_its_own_spatial_layer_and_shares_the_rest():
    model, _ = _model()
    x = torch.randn(1, 5, 50)
    assert not torch.allclose(model(x, torch.tensor([0])), model(x, torch.tensor([1])))
    with torch.no_grad():
        model.spatial[1].copy_(model.spatial[0])
        model.spatial_bias[1].copy_(model.spatial_bias[0])
    assert torch.allclose(model(x, torch.tensor([0])), model(x, torch.tensor([1])))


@pytest.mark.parametrize("kwargs", [{"kernel": 4}, {"components": 0}, {"dilations": ()}, {"dropout": 1.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ParameterError):
        TemporalConfig(**kwargs)
