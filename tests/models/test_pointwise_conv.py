"""PointwiseConv2d (a 1 x 1 convolution run as a GEMM on wide channels-last CPU maps) against a float64 einsum."""

import pytest
import torch
from torch import nn


@pytest.mark.parametrize("channels", [(24, 40), (64, 96)])  # below and above GEMM_MIN_CHANNELS
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_pointwise_conv_equals_a_float64_einsum_forward_and_backward(layout, bias, channels):
    """`PointwiseConv2d` (a GEMM on wide channels-last CPU maps) against the 1 x 1 convolution written
    as an einsum in float64: output, input gradient and weight gradient; the layout is kept."""
    from dcpt.models.layers import GEMM_MIN_CHANNELS, PointwiseConv2d

    torch.manual_seed(0)
    cin, cout = channels
    assert (min(channels) >= GEMM_MIN_CHANNELS) is (cin == 64)  # both paths are covered
    conv = PointwiseConv2d(cin, cout, bias=bias)
    x = torch.randn(3, cin, 5, 7).contiguous(memory_format=layout).requires_grad_()
    y = conv(x)
    assert y.shape == (3, cout, 5, 7) and y.is_contiguous(memory_format=layout)
    x64 = x.detach().double().requires_grad_()
    w64 = conv.weight.detach().double().requires_grad_()
    ref = torch.einsum("bchw,oc->bohw", x64, w64[:, :, 0, 0])
    if bias:
        ref = ref + conv.bias.detach().double().view(1, -1, 1, 1)
    torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(ref)
    y.backward(grad.float())
    ref.backward(grad)
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.weight.grad.double(), w64.grad, rtol=1e-5, atol=1e-4)


def test_pointwise_conv_keeps_the_conv_state_dict():
    """Checkpoints of nn.Conv2d(c, o, 1) load into it strictly, and both compute the same map."""
    from dcpt.models.layers import PointwiseConv2d

    plain = nn.Conv2d(64, 72, 1)
    ours = PointwiseConv2d(64, 72)
    ours.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(2, 64, 6, 6).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ours(x), plain(x), rtol=1e-5, atol=1e-6)
