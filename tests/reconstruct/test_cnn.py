"""The paper preset is Table 1 exactly; the small preset shares the code."""

import pytest
import torch
from torch import nn

from reconstruct.errors import ParameterError
from reconstruct.models.cnn import EEG2MelCNN, preset
from reconstruct.models.fused import ReLUDropoutPad


def test_paper_preset_matches_table_1():
    model = EEG2MelCNN((63, 125), (44, 128), preset("paper"))
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 128]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert [c.stride for c in convs] == [(1, 1)] * 4 + [(2, 2)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.features) == 5
    assert [m.p for m in model.features if isinstance(m, ReLUDropoutPad)] == [0.1] * 4
    # Keras 'same' for a 4×4 kernel pads one row/column before and two after, for stride 1 and 2 alike here
    assert model.features[0].padding == (1, 2, 1, 2)
    assert [m.pad for m in model.features if isinstance(m, ReLUDropoutPad)] == [(1, 2, 1, 2)] * 4
    shapes = []
    x = torch.zeros(2, 1, 63, 125)
    for m in model.features:
        x = m(x)
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(8, 63, 125), (16, 63, 125), (32, 63, 125), (64, 63, 125), (128, 32, 63), (128, 17, 32)]
    assert model.flat_size == 69632
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(69632, 128), (128, 5632)]
    assert [m.p for m in model.head if isinstance(m, nn.Dropout)] == [0.15]
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.head)
    assert isinstance(model.head[-1], nn.Linear), "output must be linear"
    assert model(torch.zeros(2, 63, 125)).shape == (2, 44, 128)


def test_he_uniform_init_bounds():
    torch.manual_seed(0)
    model = EEG2MelCNN((63, 125), (44, 128), preset("small"))
    conv = next(m for m in model.features if isinstance(m, nn.Conv2d))
    bound = (6 / (conv.in_channels * 16)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.8 * bound


@pytest.mark.parametrize("out_shape", [(44, 128), (44, 1025)])
@pytest.mark.parametrize("in_shape", [(63, 125), (125, 125)])
def test_all_four_input_target_pairs(in_shape, out_shape):
    model = EEG2MelCNN(in_shape, out_shape, preset("small")).eval()
    assert model(torch.zeros(3, *in_shape)).shape == (3, *out_shape)


def test_unknown_preset():
    with pytest.raises(ParameterError, match="architecture"):
        preset("resnet")
