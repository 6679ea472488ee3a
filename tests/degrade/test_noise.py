"""Noise ops against their statistics (mean, std, variance law, corrupted fraction) and the op contract."""

import math

import numpy as np
import pytest
import torch

from dcpt import degrade
from dcpt.degrade.core import sample_generators
from dcpt.degrade.noise import linear_to_srgb, peak_photons, sensor_variances, srgb_to_linear

NOISE_OPS = [name for name, spec in degrade.DEGRADATIONS.items() if spec.family == "noise"]


def flat(value, batch=1, size=128, dtype=torch.float32):
    return torch.full((batch, 3, size, size), value, dtype=dtype)


def unclipped(name, img, level, seed=0):
    """The raw op output, before `apply` clamps it to [0, 1], so clipping cannot bias the statistics."""
    gens = sample_generators(img.shape[0], img.device, torch.Generator().manual_seed(seed))
    return degrade.DEGRADATIONS.get(name).fn(img, torch.full((img.shape[0],), float(level)), gens)


@pytest.mark.parametrize("sigma", [15.0, 25.0, 50.0])
def test_gaussian_residual_has_zero_mean_and_sigma_std(sigma):
    img = flat(0.5)
    residual = unclipped("noise", img, sigma) - img
    n = residual.numel()
    assert abs(residual.mean().item()) < 4 * sigma / 255 / math.sqrt(n)
    assert residual.std().item() == pytest.approx(sigma / 255, rel=0.01)


def test_gaussian_per_sample_levels():
    img = flat(0.5, batch=3, dtype=torch.float64)
    out = degrade.apply("gaussian_noise", img, [5.0, 0.0, 40.0], generator=torch.Generator().manual_seed(1))
    stds = (out - img).flatten(1).std(1)
    assert stds[0].item() == pytest.approx(5 / 255, rel=0.02)
    assert stds[1].item() == 0.0
    assert stds[2].item() == pytest.approx(40 / 255, rel=0.02)


def test_poisson_variance_is_proportional_to_signal():
    level = 1.5
    peak = peak_photons(torch.tensor(level, dtype=torch.float64)).item()
    assert peak == pytest.approx(10**2.0)
    ratios = []
    for signal in (0.1, 0.3, 0.8):
        img = flat(signal, dtype=torch.float64)
        out = unclipped("shot_noise", img, level, seed=2)
        assert out.mean().item() == pytest.approx(signal, rel=0.01)
        assert torch.allclose(out * peak, (out * peak).round(), atol=1e-9)  # whole photon counts
        ratios.append(out.var().item() / signal)
    for r in ratios:
        assert r == pytest.approx(1 / peak, rel=0.03)


@pytest.mark.parametrize("fraction", [0.05, 0.3])
def test_salt_and_pepper_fraction(fraction):
    img = flat(0.5, size=200)
    out = degrade.apply("salt_pepper", img, fraction, generator=torch.Generator().manual_seed(3))
    white = (out == 1).all(1).float().mean().item()
    black = (out == 0).all(1).float().mean().item()
    changed = (out != img).any(1).float().mean().item()
    assert changed == pytest.approx(white + black)  # whole pixels flip, all channels together
    assert white == pytest.approx(fraction / 2, abs=0.006) and black == pytest.approx(fraction / 2, abs=0.006)


def test_srgb_transfer_functions():
    x = torch.tensor([0.0, 0.02, 0.5, 1.0], dtype=torch.float64)
    assert srgb_to_linear(x).tolist() == pytest.approx([0.0, 0.02 / 12.92, ((0.555) / 1.055) ** 2.4, 1.0])
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12)


def test_camera_noise_is_heteroscedastic_in_linear_light():
    level = 0.5
    shot, read = sensor_variances(
        torch.tensor(level, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    )
    assert shot.item() == pytest.approx(1e-4 * math.sqrt(500))
    assert read.item() < 0.01 * shot.item()
    for lin in (0.2, 0.6):
        img = linear_to_srgb(torch.full((1, 3, 128, 128), lin, dtype=torch.float64))
        out = degrade.apply("camera_noise", img, level, generator=torch.Generator().manual_seed(4))
        back = srgb_to_linear(out)
        assert back.mean().item() == pytest.approx(lin, rel=0.01)
        assert back.var().item() == pytest.approx(shot.item() * lin, rel=0.05)


def test_thread_count_does_not_change_bytes(images):
    threads = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            outs.append(
                degrade.apply("poisson_noise", images, 1.0, generator=torch.Generator().manual_seed(5))
            )
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(*outs)


def test_channels_last_input_gives_the_same_bytes(images):
    expected = degrade.apply("camera_noise", images, 0.5, generator=torch.Generator().manual_seed(6))
    channels_last = images.to(memory_format=torch.channels_last)
    assert torch.equal(
        degrade.apply("camera_noise", channels_last, 0.5, generator=torch.Generator().manual_seed(6)),
        expected,
    )


@pytest.mark.parametrize("name", NOISE_OPS)
def test_another_seed_draws_other_noise(name, images):
    level = degrade.DEGRADATIONS.get(name).sheet_levels()[1]
    a = degrade.apply(name, images, level, generator=torch.Generator().manual_seed(7))
    assert not torch.equal(a, degrade.apply(name, images, level, generator=torch.Generator().manual_seed(8)))


def test_transfer_curves_in_float32_match_the_exact_power():
    """The curves run as exp(p log x) (one vectorised path for every element); against numpy's float64
    power they stay within 2e-6 relative over the whole [0, 1] range."""
    x = np.linspace(0.0, 1.0, 100_003)
    srgb = np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    linear = np.where(x > 0.0031308, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055, 12.92 * x)
    ours = srgb_to_linear(torch.from_numpy(x).float()).double().numpy()
    np.testing.assert_allclose(ours, srgb, rtol=2e-6, atol=1e-9)
    ours = linear_to_srgb(torch.from_numpy(x).float()).double().numpy()
    np.testing.assert_allclose(ours, linear, rtol=2e-6, atol=1e-9)


def test_salt_and_pepper_equals_an_independent_mask_reference():
    """Same draws as the op (uniform u per pixel from the sample's generator): white where u < level / 2,
    black where u >= 1 - level / 2, written with numpy boolean indexing."""
    img = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    level = 0.3
    gens = sample_generators(2, img.device, torch.Generator().manual_seed(9))
    out = degrade.DEGRADATIONS.get("salt_pepper").fn(img, torch.full((2,), level), gens)
    gens = sample_generators(2, img.device, torch.Generator().manual_seed(9))
    expected = img.numpy().copy()
    for i, g in enumerate(gens):
        u = torch.rand(17, 23, generator=g).numpy()
        expected[i][:, u < level / 2] = 1.0
        expected[i][:, u >= 1 - level / 2] = 0.0
    np.testing.assert_array_equal(out.numpy(), expected)
