"""Haze: the atmospheric scattering model ``I = J t + A (1 - t)`` with ``t = exp(-beta d)``."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import core
from .fields import low_pass

NEAREST_DEPTH = 0.1
"""Pseudo-depth of the nearest pixel, so that even the foreground gets a trace of haze."""


def pseudo_depth(img: Tensor) -> Tensor:
    """A smooth stand-in for scene depth, ``B x 1 x H x W`` in [NEAREST_DEPTH, 1] (1 = far).

    Without a depth map we mix two cues that hold in most outdoor photographs: the top of the frame is
    farther than the bottom (weight 0.6), and bright, low-texture regions (sky, distant haze) are farther
    than dark ones (weight 0.4, on brightness low-passed to about 8 cells a side and stretched to [0, 1]
    per image). The mix is stretched to [NEAREST_DEPTH, 1] per image.
    """
    height = img.shape[-2]
    luma = low_pass(img.mean(dim=1, keepdim=True), 8)
    lo = luma.amin(dim=(2, 3), keepdim=True)
    hi = luma.amax(dim=(2, 3), keepdim=True)
    brightness = (luma - lo) / (hi - lo).clamp(min=1e-6)
    rows = torch.linspace(1.0, 0.0, height, device=img.device, dtype=img.dtype).view(1, 1, height, 1)
    depth = 0.6 * rows + 0.4 * brightness
    lo = depth.amin(dim=(2, 3), keepdim=True)
    hi = depth.amax(dim=(2, 3), keepdim=True)
    return NEAREST_DEPTH + (1 - NEAREST_DEPTH) * (depth - lo) / (hi - lo).clamp(min=1e-6)


def _per_sample(value, batch: int, img: Tensor, trailing: int) -> Tensor:
    t = torch.as_tensor(value, dtype=img.dtype, device=img.device)
    if t.ndim == 0:
        t = t.expand(batch)
    return t.reshape(t.shape + (1,) * trailing)


def add_haze(img: Tensor, beta, airlight, depth: Optional[Tensor] = None) -> Tensor:
    """Deterministic haze: ``img * t + airlight * (1 - t)`` with ``t = exp(-beta * depth)``.

    `beta` is the scattering coefficient per unit depth (scalar or ``(B,)``); `airlight` the atmospheric
    light in [0, 1] (scalar, ``(3,)`` or ``(B, 3)``); `depth` ``H x W``, ``B x H x W`` or
    ``B x 1 x H x W`` in [0, 1], or None for `pseudo_depth`.
    """
    batch = img.shape[0]
    depth = pseudo_depth(img) if depth is None else torch.as_tensor(depth, dtype=img.dtype, device=img.device)
    if depth.ndim == 2:
        depth = depth[None, None]
    elif depth.ndim == 3:
        depth = depth[:, None]
    beta = _per_sample(beta, batch, img, 3)
    light = torch.as_tensor(airlight, dtype=img.dtype, device=img.device)
    light = light.reshape(-1, 3, 1, 1) if light.ndim >= 1 else light
    transmission = torch.exp(-beta * depth)
    return img * transmission + light * (1 - transmission)


def sample_airlight(gens, device, dtype) -> Tensor:
    """Atmospheric light per sample, ``B x 3``: a grey level in [0.7, 1) tinted by up to +-0.03 per channel."""
    grey = core.uniform(gens, 0.7, 1.0, device).to(dtype)
    tint = (core.rand(gens, (3,), device).to(dtype) - 0.5) * 0.06
    return (grey[:, None] + tint).clamp(0.0, 1.0)


@core.register(
    "haze",
    "weather",
    (0.3, 3.0),
    "atmospheric haze; level = scattering coefficient beta per unit pseudo-depth (transmission "
    "exp(-beta) at the farthest point, depth from image layout and brightness)",
)
def haze(img: Tensor, level: Tensor, gens) -> Tensor:
    light = sample_airlight(gens, img.device, img.dtype)
    return add_haze(img, level.to(img.dtype), light)
