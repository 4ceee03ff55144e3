"""The fused ReLU → dropout → padding op equals the three torch modules it replaces."""

import pytest
import torch
from torch import nn

from reconstruct.models.fused import ReLUDropoutPad, keep_mask

PAD = (1, 2, 1, 2)


@pytest.fixture(params=[torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def x(request):
    torch.manual_seed(0)
    return torch.randn(3, 5, 7, 9).to(memory_format=request.param).requires_grad_(True)


def reference(x, keep=None, p=0.0):
    y = nn.functional.relu(x)
    if keep is not None:
        y = y * keep / (1 - p)
    return nn.functional.pad(y, PAD)


def test_eval_mode_is_relu_then_pad(x):
    fused = ReLUDropoutPad(0.3, PAD).eval()
    out = fused(x)
    torch.testing.assert_close(out, reference(x))
    grad = torch.randn_like(out)
    (got,) = torch.autograd.grad(out, x, grad)
    (want,) = torch.autograd.grad(reference(x), x, grad)
    torch.testing.assert_close(got, want)


def test_training_mode_matches_relu_dropout_pad_with_the_same_mask(x):
    fused = ReLUDropoutPad(0.3, PAD).train()
    torch.manual_seed(7)
    out = fused(x)
    torch.manual_seed(7)
    keep = keep_mask(x, 0.3)
    want = reference(x, keep, 0.3)
    torch.testing.assert_close(out, want)
    grad = torch.randn_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, x, grad)[0], torch.autograd.grad(want, x, grad)[0])
    assert out.is_contiguous(memory_format=torch.channels_last) == (
        x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())


@pytest.mark.parametrize("p", [0.1, 0.15, 0.5])
def test_drop_rate_and_lanes_are_unbiased(p):
    torch.manual_seed(1)
    like = torch.empty(400, 1000)
    keep = keep_mask(like, p)
    assert abs((~keep).float().mean().item() - p) < 0.005
    # each of the four 16-bit lanes of a random word must drop at the same rate
    lanes = (~keep).reshape(-1)[: 400_000].view(-1, 4).float().mean(0)
    assert (lanes - p).abs().max() < 0.01


def test_mask_is_seeded():
    like = torch.empty(10, 10)
    torch.manual_seed(3)
    a = keep_mask(like, 0.2)
    torch.manual_seed(3)
    assert torch.equal(a, keep_mask(like, 0.2))


@pytest.mark.parametrize("p", [-0.1, 1.0, 2.0])
def test_bad_drop_rate_is_refused(p):
    with pytest.raises(ValueError, match="dropout"):
        ReLUDropoutPad(p)
