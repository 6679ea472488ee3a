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
