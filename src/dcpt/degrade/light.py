"""Low light: an under-exposed capture simulated in linear light with sensor noise."""

from __future__ import annotations

import torch
from torch import Tensor

from . import core

GAMMA = 2.2
"""Display gamma used to go to linear light and back (a plain power law, close to sRGB)."""

FULL_WELL = 4000.0
"""Electrons collected by a white pixel at full exposure: sets the shot-noise level."""

ADC_LEVELS = 4095.0
"""The raw signal is quantised by a 12-bit converter before the (8-bit) output."""


def exposure_for(level: Tensor) -> Tensor:
    """Exposure factor for a level in [0, 1]: geometric from 0.5 (level 0) to 0.03 (level 1)."""
    return 0.5 * (0.03 / 0.5) ** level


def read_noise_for(level: Tensor) -> Tensor:
    """Read-noise sigma in electrons: 2 at level 0 to 8 at level 1 (dimmer scenes, higher gain)."""
    return 2.0 + 6.0 * level


def darken(img: Tensor, exposure: Tensor, read_sigma: Tensor, noise: Tensor) -> Tensor:
    """Deterministic low-light capture of `img` given per-sample `exposure`, `read_sigma` (electrons)
    and a standard normal `noise` of the image's shape.

    Linearise with `GAMMA`, scale by the exposure, add shot noise (Gaussian with the Poisson variance)
    and read noise, quantise with a 12-bit converter, return to gamma space, quantise to 8 bits.
    """
    view = (-1, 1, 1, 1)
    electrons = img.clamp(0.0, 1.0) ** GAMMA * (exposure.view(view) * FULL_WELL)
    sigma = (electrons + read_sigma.view(view) ** 2).sqrt()
    raw = ((electrons + sigma * noise) / FULL_WELL).clamp(0.0, 1.0)
    raw = torch.round(raw * ADC_LEVELS) / ADC_LEVELS
    return torch.round(raw ** (1.0 / GAMMA) * 255.0) / 255.0


@core.register(
    "low_light",
    "light",
    (0.0, 1.0),
    "under-exposure with sensor noise; level in [0, 1] lowers the exposure geometrically from 0.5 to "
    "0.03 of normal and raises read noise from 2 to 8 electrons (shot noise from a 4000 e- full well)",
    aliases=("lowlight", "dark"),
)
def low_light(img: Tensor, level: Tensor, gens) -> Tensor:
    level = level.to(img.dtype)
    noise = core.randn(gens, img.shape[1:], img.device).to(img.dtype)
    return darken(img, exposure_for(level), read_noise_for(level), noise)
