"""Weather ops: the haze formula, where rain and snow brighten, streak orientation, drop refraction, and
the catalogue contract (determinism, batch == one by one, PSNR falling with the level)."""

import math

import numpy as np
import pytest
import torch

from dcpt import degrade
from dcpt.degrade.core import sample_generators
from dcpt.degrade.weather import add_haze, pseudo_depth, rain_layer
from dcpt.degrade.weather_rain import raindrop_maps
from dcpt.degrade.weather_snow import snow_layers


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_add_haze_matches_closed_form_at_constant_depth(rng):
    img = rng.random((2, 3, 16, 20))
    airlight = np.array([[0.8, 0.85, 0.9], [1.0, 0.95, 0.7]])
    beta = np.array([1.2, 0.4])
    t = np.exp(-beta * 0.5)[:, None, None, None]
    expected = img * t + airlight[:, :, None, None] * (1 - t)
    out = add_haze(
        torch.from_numpy(img), torch.from_numpy(beta), torch.from_numpy(airlight), torch.full((16, 20), 0.5)
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-12)


def test_pseudo_depth_is_in_range_and_far_at_the_top():
    flat = torch.full((1, 3, 32, 24), 0.5)
    depth = pseudo_depth(flat)
    assert depth.shape == (1, 1, 32, 24)
    assert depth.min() >= 0.1 - 1e-6 and depth.max() <= 1 + 1e-6
    assert torch.all(depth[0, 0, :-1].mean(1) > depth[0, 0, 1:].mean(1))


def test_haze_pulls_towards_a_near_white_airlight():
    black = torch.zeros(3, 3, 32, 32)
    out = degrade.apply("haze", black, 3.0, generator=_gen())
    top = out[:, :, 0].mean(dim=-1)  # farthest row: t = exp(-3), ~95 % airlight
    assert torch.all(top > 0.7 * 0.95 - 0.03) and torch.all(top < 1.0)
    assert torch.all((top.amax(1) - top.amin(1)) < 0.06 + 1e-6)


def test_rain_screen_blends_its_layer():
    img = torch.full((2, 3, 64, 64), 0.3)
    seeds, level = [11, 12], torch.tensor([0.3, 0.8])
    out = degrade.apply("rain", img, level, seeds=seeds)
    layer, _ = rain_layer(level, sample_generators(2, "cpu", seeds=seeds), 64, 64, "cpu", torch.float32)
    assert torch.all(out >= img - 1e-6)
    streaks = layer > 0.1
    assert streaks.any() and torch.all(out[:, 0][streaks] > 0.3 + 0.05)
    torch.testing.assert_close(out, img + layer[:, None] * (1 - img))


def _dominant_orientation(layer, radius=6):
    """Orientation (radians from +x, y down) of the second moment of the layer's autocorrelation near
    the origin: streaks make it elongated along them. Unlike image gradients it has no pixel-grid bias."""
    spectrum = np.fft.fft2(layer - layer.mean())
    auto = np.fft.fftshift(np.real(np.fft.ifft2(np.abs(spectrum) ** 2)))
    h, w = auto.shape
    y, x = np.mgrid[:h, :w]
    y, x = y - h // 2, x - w // 2
    weight = auto * ((x * x + y * y <= radius * radius) & (auto > 0))
    return 0.5 * math.atan2(2 * (weight * x * y).sum(), (weight * x * x).sum() - (weight * y * y).sum())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_rain_streak_orientation_matches_the_drawn_angle(seed):
    gens = sample_generators(1, "cpu", seeds=[seed])
    layer, angle = rain_layer(torch.tensor([0.9]), gens, 128, 128, "cpu", torch.float64)
    drawn = math.pi / 2 - float(angle[0])  # the streak direction (sin a, cos a), measured from +x
    diff = (_dominant_orientation(layer[0].numpy()) - drawn + math.pi / 2) % math.pi - math.pi / 2
    assert abs(math.degrees(diff)) < 5  # sub-layers are jittered by up to 4 degrees


def test_snow_whitens_where_flakes_are():
    img = torch.full((2, 3, 64, 64), 0.1)
    seeds, level = [5, 6], torch.tensor([0.5, 0.9])
    out = degrade.apply("snow", img, level, seeds=seeds)
    gens = sample_generators(2, "cpu", seeds=seeds)
    alpha = torch.zeros(2, 64, 64)
    for flakes in snow_layers(level, gens, 64, 64, "cpu", torch.float32):
        alpha = 1 - (1 - alpha) * (1 - flakes)
    assert torch.all(out >= img)
    dense = alpha > 0.6
    assert dense.any() and torch.all(out[:, 1][dense] > 0.6)
    assert out[:, 1][alpha < 0.01].max() < 0.1 + 0.2 + 1e-6  # only the veil away from flakes


def test_raindrops_flip_and_magnify_inside_and_leave_the_rest():
    img = torch.rand(2, 3, 96, 96, generator=_gen())
    source, alpha, _ = raindrop_maps(img, torch.tensor([0.5, 1.0]), sample_generators(2, "cpu", seeds=[1, 2]))
    core = alpha > 0.999
    below = core[:, :-1] & core[:, 1:]
    step = (source[:, 1:, :, 1] - source[:, :-1, :, 1])[below]
    assert step.numel() > 50
    assert step.median() < 0 and step.abs().median() < 1  # flipped, magnified
    out = degrade.apply("raindrop", img, [0.5, 1.0], seeds=[1, 2])
    untouched = (alpha == 0)[:, None].expand_as(img)
    assert torch.equal(out[untouched], img[untouched])
    assert 0.02 < (alpha > 0).float().mean() < 0.6


@pytest.mark.parametrize("size", [(48, 40), (33, 57)])
def test_stamp_filter_is_the_circular_convolution_numpy_computes(size):
    """Rain streaks are stamped seed by seed: the result must be NumPy's FFT circular convolution of
    the seeds with the wrapped line kernels (streaks cross the borders), and a sample's bytes must
    not depend on its batch."""
    from functools import partial

    from dcpt.degrade.fields import line_kernel, line_values, stamp_filter

    h, w = size
    g = torch.Generator().manual_seed(3)
    draws = torch.rand(3, h, w, generator=g, dtype=torch.float64)
    seeds = torch.where(draws < 0.01, 1 - draws, torch.zeros_like(draws))
    seeds[0, 0, 0], seeds[1, h - 1, w - 2] = 1.0, 0.7  # streaks that wrap around the corners
    angle = torch.tensor([0.3, -0.4, 1.2], dtype=torch.float64)
    length = torch.tensor([20.0, 9.0, 30.0], dtype=torch.float64)
    thickness = torch.tensor([0.6, 1.1, 0.8], dtype=torch.float64)
    kernel_at = partial(
        line_values, angle=angle[:, None], length=length[:, None], thickness=thickness[:, None]
    )
    out = stamp_filter(seeds, kernel_at, radius=math.ceil(15 + 6 * 1.1))
    kernels = line_kernel(h, w, angle, length, thickness, "cpu", torch.float64).numpy()
    ref = np.real(np.fft.ifft2(np.fft.fft2(seeds.numpy()) * np.fft.fft2(kernels)))
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-7)
    one = stamp_filter(
        seeds[1:2],
        partial(
            line_values, angle=angle[1:2, None], length=length[1:2, None], thickness=thickness[1:2, None]
        ),
        radius=math.ceil(15 + 6 * 1.1),
    )
    assert torch.equal(one[0], out[1])


def test_rain_filters_large_images_by_fft_and_small_ones_by_stamping_to_the_same_layer(monkeypatch):
    """Above `STAMP_MAX_SIDE` the streaks are filtered by FFT: forcing either path on one 200-pixel
    image gives the same layer to float round-off."""
    from dcpt.degrade import weather_rain

    def layer(max_side):
        monkeypatch.setattr(weather_rain, "STAMP_MAX_SIDE", max_side)
        gens = sample_generators(2, "cpu", seeds=[4, 5])
        return rain_layer(torch.tensor([0.2, 0.9]), gens, 200, 208, "cpu", torch.float64)[0]

    by_fft, stamped = layer(100), layer(1000)
    assert (stamped > 0.1).float().mean() > 0.01  # streaks are there
    torch.testing.assert_close(by_fft, stamped, rtol=0, atol=1e-7)
