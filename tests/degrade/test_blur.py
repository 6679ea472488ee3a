"""Blur kernels against analytic formulas, filtering against scipy.ndimage, and the op contract."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage, special

from dcpt import degrade
from dcpt.degrade import kernels as K
from dcpt.degrade.blur import shake_trajectory


def correlate_reference(img: torch.Tensor, kernels, mode: str) -> np.ndarray:
    """scipy.ndimage.correlate per sample and channel (float64)."""
    x = img.double().numpy()
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        k = np.asarray(kernels[b] if np.ndim(kernels) == 3 else kernels, dtype=np.float64)
        for c in range(x.shape[1]):
            out[b, c] = ndimage.correlate(x[b, c], k, mode=mode)
    return out


# ----------------------------------------------------------------------------- kernels


@pytest.mark.parametrize(
    "kernel",
    [
        K.gaussian_kernel(2.0, 0.7, 0.4, 13),
        K.generalized_gaussian_kernel(2.0, 1.0, 1.0, 0.6, 15),
        K.plateau_kernel(1.5, 1.5, 0.0, 3.0, 11),
        K.sinc_kernel(math.pi / 3, 21),
        K.disk_kernel(4.3, 11),
        K.line_kernel(9.0, 0.7, 13),
        K.gaussian_kernel1d(1.3, 9),
    ],
)
def test_kernels_sum_to_one(kernel):
    assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_kernel_matches_formula():
    sx, sy, th, size = 2.0, 0.8, 0.5, 11
    k = K.gaussian_kernel(sx, sy, th, size, dtype=torch.float64)
    c = size // 2
    for x, y in [(1, 0), (0, 2), (-3, 1), (2, -2)]:
        u = x * math.cos(th) - y * math.sin(th)
        v = x * math.sin(th) + y * math.cos(th)
        expected = math.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
        assert (k[c + y, c + x] / k[c, c]).item() == pytest.approx(expected, rel=1e-9)
    # the major axis runs counter-clockwise by theta from x (y pointing down)
    along = (round(3 * math.cos(th)), -round(3 * math.sin(th)))
    across = (round(3 * math.sin(th)), round(3 * math.cos(th)))
    assert k[c + along[1], c + along[0]] > 10 * k[c + across[1], c + across[0]]


def test_narrow_kernels_hold_no_subnormal_floats():
    """The tails of a narrow rotated Gaussian underflow to subnormal floats (exp(-98) here), which
    make CPU convolutions up to 100x slower: they must be exactly zero, and the rest the formula."""
    sx, sy, th, size = 2.4, 0.5, 0.7, 15
    k = K.gaussian_kernel(sx, sy, th, size)
    assert not ((k != 0) & (k.abs() < torch.finfo(torch.float32).tiny)).any()
    ref = K.gaussian_kernel(sx, sy, th, size, dtype=torch.float64)
    assert (ref < torch.finfo(torch.float32).tiny).any()  # the case exists
    torch.testing.assert_close(k.double(), torch.where(k > 0, ref, 0.0), rtol=1e-5, atol=1e-30)


def test_isotropic_gaussian_is_outer_product_of_1d():
    g = K.gaussian_kernel1d(1.7, 11, dtype=torch.float64)
    assert torch.allclose(
        torch.outer(g, g), K.gaussian_kernel(1.7, 1.7, 0.3, 11, dtype=torch.float64), atol=1e-15
    )
    assert torch.allclose(g / g[5], torch.exp(-0.5 * (torch.arange(-5, 6.0, dtype=torch.float64) / 1.7) ** 2))


def test_generalized_and_plateau_match_formula():
    c = 7
    g = K.generalized_gaussian_kernel(2.0, 2.0, 0.0, 0.5, 15, dtype=torch.float64)
    p = K.plateau_kernel(2.0, 2.0, 0.0, 3.0, 15, dtype=torch.float64)
    for x, y in [(1, 0), (2, 2), (0, 5)]:
        d = math.hypot(x, y) / 2.0
        assert (g[c + y, c + x] / g[c, c]).item() == pytest.approx(math.exp(-0.5 * d), rel=1e-9)
        assert (p[c + y, c + x] / p[c, c]).item() == pytest.approx(1 / (1 + d**3), rel=1e-9)
    assert torch.allclose(
        K.generalized_gaussian_kernel(1.5, 0.9, 0.2, 1.0, 9, dtype=torch.float64),
        K.gaussian_kernel(1.5, 0.9, 0.2, 9, dtype=torch.float64),
    )


def test_sinc_kernel_matches_bessel_formula():
    wc, c = math.pi / 4, 10
    k = K.sinc_kernel(wc, 21, dtype=torch.float64)
    centre = wc**2 / (4 * math.pi)
    for x, y in [(1, 0), (3, 4), (0, 7)]:
        d = math.hypot(x, y)
        expected = wc * special.j1(wc * d) / (2 * math.pi * d)
        assert (k[c + y, c + x] / k[c, c]).item() == pytest.approx(expected / centre, rel=1e-9)
    assert (k < 0).any()


def test_disk_kernel_is_flat_inside_and_zero_outside():
    k = K.disk_kernel(3.0, 9, dtype=torch.float64)
    inside = k[4, 4].item()
    assert k[4, 6].item() == pytest.approx(inside) and k[6, 5].item() == pytest.approx(inside)
    assert k[4, 7].item() == pytest.approx(0.5 * inside)  # d = 3 = r: half covered
    assert k[0, 0].item() == 0 and k[4, 8].item() == 0


def test_line_kernel_is_a_segment():
    k = K.line_kernel(4.0, 0.0, 9, dtype=torch.float64)
    assert torch.all(k[[0, 1, 2, 3, 5, 6, 7, 8]] == 0)
    row = k[4] / k[4, 4]
    assert row[2:7].tolist() == pytest.approx([0.5, 1, 1, 1, 0.5], abs=0.02)
    vertical = K.line_kernel(4.0, math.pi / 2, 9, dtype=torch.float64)
    assert torch.allclose(vertical, k.T, atol=1e-12)


def test_shake_trajectory_extent_and_centre():
    g = torch.Generator().manual_seed(3)
    path = shake_trajectory(
        torch.randn(256, generator=g), torch.randn(256, generator=g), torch.tensor(0.3), 12.0
    )
    low, high = path.min(0).values, path.max(0).values
    assert (high - low).max().item() == pytest.approx(12.0, rel=1e-5)
    assert torch.allclose((low + high) / 2, torch.zeros(2), atol=1e-5)
    kernel = K.trajectory_kernel(path, 15)
    assert kernel.sum().item() == pytest.approx(1.0) and kernel.min() >= 0


# ----------------------------------------------------------------------------- filtering


@pytest.mark.parametrize("size", [5, 21, 27])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blur_with_kernels_matches_scipy_mirror(size, dtype):
    g = torch.Generator().manual_seed(size)
    img = torch.rand(2, 3, 30, 37, generator=g, dtype=dtype)
    kernels = torch.rand(2, size, size, generator=g, dtype=dtype)  # asymmetric: checks no flip
    kernels /= kernels.sum((1, 2), keepdim=True)
    out = K.blur_with_kernels(img, kernels)
    assert out.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert np.abs(out.double().numpy() - correlate_reference(img, kernels.numpy(), "mirror")).max() < tol


def test_kernel_larger_than_image_falls_back_to_replicate():
    img = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kernel = K.gaussian_kernel(4.0, 4.0, 0.0, 21, dtype=torch.float64)
    out = K.blur_with_kernels(img, kernel)
    assert np.abs(out.numpy() - correlate_reference(img, kernel.numpy(), "nearest")).max() < 1e-12


@pytest.mark.parametrize("size", [5, 15])
def test_separable_equals_2d(size):
    img = torch.rand(3, 3, 20, 24, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    k1 = torch.stack([K.gaussian_kernel1d(s, size, dtype=torch.float64) for s in (0.8, 1.5, 3.0)])
    full = k1[:, :, None] * k1[:, None, :]
    assert torch.allclose(K.blur_separable(img, k1), K.blur_with_kernels(img, full), atol=1e-12)


@pytest.mark.parametrize(
    "name, level, kernel",
    [
        ("gaussian_blur", 1.5, K.gaussian_kernel(1.5, 1.5, 0.0, 11, dtype=torch.float64)),
        ("blur", 3.0, K.gaussian_kernel(3.0, 3.0, 0.0, 19, dtype=torch.float64)),
        ("defocus_blur", 2.5, K.disk_kernel(2.5, 5, dtype=torch.float64)),
        ("sinc_blur", 3.0, K.sinc_kernel(math.pi / 3, 21, dtype=torch.float64)),
    ],
)
def test_deterministic_ops_match_scipy(name, level, kernel, images):
    out = degrade.apply(name, images.double(), level)
    ref = np.clip(correlate_reference(images, kernel.numpy(), "mirror"), 0, 1)
    assert np.abs(out.numpy() - ref).max() < 1e-6  # levels arrive as float32


def test_linear_motion_blur_smears_along_one_direction():
    img = torch.zeros(1, 3, 41, 41, dtype=torch.float64)
    img[..., 20, 20] = 1.0  # the output is the (flipped) kernel itself
    out = degrade.apply("linear_motion_blur", img, 12.0, generator=torch.Generator().manual_seed(0))[0, 0]
    ys, xs = torch.nonzero(out > 1e-6, as_tuple=True)
    extent = math.hypot((xs.max() - xs.min()).item(), (ys.max() - ys.min()).item())
    assert 11 <= extent <= 15.5
    assert out.sum().item() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- the op contract
