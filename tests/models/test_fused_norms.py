"""The fused channels-last LayerNorm2d path against independent references (float64 formula, nn.LayerNorm)."""

import pytest
import torch
from torch import nn

from dcpt.models.layers import LayerNorm2d, layer_norm_2d, layer_norm_2d_reference


def reference_float64(x, weight, bias, eps):
    """The releases' formula in float64, written out independently of dcpt."""
    x = x.double()
    mu = x.mean(1, keepdim=True)
    var = ((x - mu) ** 2).mean(1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps)
    return (y * weight.double().view(1, -1, 1, 1) + bias.double().view(1, -1, 1, 1)).float()


def case(channels=16, seed=0, shape=(2, 7, 9)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape[0], channels, *shape[1:], generator=g) * 3 + 0.5
    return x, torch.randn(channels, generator=g), torch.randn(channels, generator=g)


@pytest.mark.parametrize("eps", [1e-6, 1e-5])
@pytest.mark.parametrize("channels", [3, 16, 64])
def test_fused_channels_last_equals_the_float64_formula(channels, eps):
    x, w, b = case(channels)
    fused = layer_norm_2d(x.contiguous(memory_format=torch.channels_last), w, b, eps)
    assert fused.is_contiguous(memory_format=torch.channels_last)  # layout kept
    torch.testing.assert_close(fused, reference_float64(x, w, b, eps), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused, layer_norm_2d_reference(x, w, b, eps), rtol=1e-5, atol=1e-5)


def test_fused_equals_torch_layer_norm_on_pixels():
    x, w, b = case(32, seed=3)
    ln = nn.LayerNorm(32, eps=1e-6)
    with torch.no_grad():
        ln.weight.copy_(w)
        ln.bias.copy_(b)
    expected = ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    got = layer_norm_2d(x.contiguous(memory_format=torch.channels_last), w, b, 1e-6)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_contiguous_input_takes_the_written_out_formula_exactly():
    x, w, b = case(8, seed=4)
    torch.testing.assert_close(
        layer_norm_2d(x, w, b, 1e-6), reference_float64(x, w, b, 1e-6), rtol=1e-5, atol=1e-5
    )


def test_fused_gradients_equal_the_formula_gradients():
    x, w, b = case(16, seed=5)
    grads = []
    for fused in (True, False):
        xi = (x.contiguous(memory_format=torch.channels_last) if fused else x.clone()).requires_grad_()
        wi, bi = w.clone().requires_grad_(), b.clone().requires_grad_()
        out = layer_norm_2d(xi, wi, bi, 1e-6) if fused else layer_norm_2d_reference(xi, wi, bi, 1e-6)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append((xi.grad, wi.grad, bi.grad))
    for a, b_ in zip(*grads):
        torch.testing.assert_close(a, b_, rtol=1e-4, atol=1e-5)


def test_module_uses_the_fused_path_on_channels_last():
    x, w, b = case(16, seed=6)
    norm = LayerNorm2d(16)
    with torch.no_grad():
        norm.weight.copy_(w)
        norm.bias.copy_(b)
    out = norm(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, reference_float64(x, w, b, 1e-6), rtol=1e-5, atol=1e-5)


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
