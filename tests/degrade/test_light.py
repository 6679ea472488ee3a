"""low_light: the closed form without noise, the sensor-noise statistics, monotone darkening, aliases and
the catalogue contract."""

import math

import numpy as np
import torch

from dcpt import degrade
from dcpt.degrade.light import FULL_WELL, darken, exposure_for, read_noise_for


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_darken_without_noise_matches_numpy(rng):
    img = rng.random((2, 3, 8, 10))
    exposure = np.array([0.3, 0.05])
    linear = img**2.2 * exposure[:, None, None, None]
    raw = np.round(linear * 4095) / 4095
    expected = np.round(raw ** (1 / 2.2) * 255) / 255
    out = darken(
        torch.from_numpy(img), torch.from_numpy(exposure), torch.tensor([2.0, 8.0]), torch.zeros(2, 3, 8, 10)
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-12)


def test_noise_has_shot_plus_read_variance_in_electrons():
    level = math.log(0.1) / math.log(0.06)  # exposure 0.05
    grey = torch.full((1, 3, 256, 256), 0.5, dtype=torch.float64)
    out = degrade.apply("low_light", grey, level, generator=_gen())
    electrons = out.double() ** 2.2 * FULL_WELL
    mean = 0.5**2.2 * float(exposure_for(torch.tensor(level))) * FULL_WELL
    sigma = math.sqrt(mean + float(read_noise_for(torch.tensor(level))) ** 2)
    assert abs(electrons.mean().item() - mean) < 0.02 * mean
    assert abs(electrons.std().item() - sigma) < 0.05 * sigma


def test_brightness_falls_monotonically(images):
    means = [
        degrade.apply("low_light", images, lv, generator=_gen(2)).mean().item() for lv in np.linspace(0, 1, 8)
    ]
    assert all(a > b for a, b in zip(means, means[1:]))
    assert means[0] < images.mean().item()


def test_aliases_are_the_same_op(images):
    ref = degrade.apply("low_light", images, 0.4, generator=_gen(5))
    for alias in ("lowlight", "dark"):
        assert torch.equal(degrade.apply(alias, images, 0.4, generator=_gen(5)), ref)
