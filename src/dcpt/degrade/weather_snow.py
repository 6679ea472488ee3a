"""Snow: a slight veil plus layers of flakes, far ones small and sharp, near ones big and blurry."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import core
from .fields import blob_kernel, fft_filter, sparse_seeds

SNOW_LAYERS = (
    # (flake sigma in reference pixels, fall stretch, seed density at level 0 and 1, opacity)
    (0.55, 1.3, 0.0025, 0.010, 0.95),
    (1.2, 1.5, 0.0006, 0.0025, 0.9),
    (3.5, 1.3, 0.00015, 0.0006, 0.75),
)
"""Far to near; densities are fractions of pixels, reference pixels are 1/256 of the short side."""


def snow_layers(level: Tensor, gens, height: int, width: int, device, dtype):
    """Yield each layer's flake opacity ``B x H x W`` in [0, 1], far first."""
    level = level.to(dtype)
    unit = max(min(height, width) / 256.0, 0.4)
    angle = core.uniform(gens, -20.0, 20.0, device).to(dtype) * (math.pi / 180)
    ones = torch.ones_like(level)
    for sigma, stretch, dens_lo, dens_hi, opacity in SNOW_LAYERS:
        seeds = sparse_seeds(gens, height, width, dens_lo + (dens_hi - dens_lo) * level, device, dtype)
        kernel = blob_kernel(height, width, ones * sigma * unit, ones * stretch, angle, device, dtype)
        yield (fft_filter(seeds, kernel) * opacity).clamp(0.0, 1.0)


@core.register(
    "snow",
    "weather",
    (0.0, 1.0),
    "falling snow: a white veil (4% .. 20%) and three layers of flakes (far small sharp, near big "
    "blurry); level in [0, 1] grows flake density and the veil",
)
def snow(img: Tensor, level: Tensor, gens) -> Tensor:
    height, width = img.shape[-2:]
    veil = (0.04 + 0.16 * level.to(img.dtype)).view(-1, 1, 1, 1)
    out = img * (1 - veil) + 0.9 * veil
    for flakes in snow_layers(level, gens, height, width, img.device, img.dtype):
        flakes = flakes[:, None]
        out = out * (1 - flakes) + flakes
    return out
