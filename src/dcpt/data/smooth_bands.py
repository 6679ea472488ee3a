"""Smooth-band content augmentation: a band of a clean crop replaced by a smooth, featureless field.

Why: the embedded training photographs have no large smooth bright or dark regions (no open sky,
no dark cloth), so a net trained on them learns that a bright low-contrast region is always haze
and a dark one always low light. On held-out photographs it then darkens a blurred sky by
~20 dB and brightens a dark coat (docs/experiments.md, "The demo's shipped nets"). A band of sky-
or cloth-like field next to real content, degraded like the rest of the crop, shows the net such
regions under every degradation, with the photograph beside it to tell hazy from clear.

The field is a flat level (grey or slightly tinted), a gentle linear ramp and a faint
low-frequency ripple: smooth everywhere, so its finite differences stay bounded by the ramp and
ripple amplitudes (`MAX_RAMP`, `RIPPLE`), which the tests check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_RAMP = 0.15  # the field's largest change across the crop, per axis
RIPPLE = 0.02  # the amplitude of its low-frequency ripple
TINT = 0.15  # the largest relative departure of a channel from the grey level
DEPTH = (0.2, 0.8)  # the band's depth, as a fraction of the crop's side
EDGE = 3.0  # the width of the soft boundary between band and photograph, in pixels


def _uniform(g: torch.Generator, lo: float, hi: float, n: int = 1) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64).float()


def smooth_field(g: torch.Generator, size: int) -> Tensor:
    """A ``3 x size x size`` smooth field in [0, 1]: a level drawn uniformly in [0, 1], grey or tinted
    (even odds), a linear ramp and a bilinear 4 x 4 ripple."""
    level = _uniform(g, 0.0, 1.0)
    tinted = bool(torch.rand((), generator=g) < 0.5)
    tint = 1.0 + _uniform(g, -TINT, TINT, 3) if tinted else torch.ones(3)
    slope_y, slope_x = _uniform(g, -MAX_RAMP, MAX_RAMP, 2).tolist()
    axis = torch.linspace(-0.5, 0.5, size)
    ramp = slope_y * axis[:, None] + slope_x * axis[None, :]
    coarse = _uniform(g, -RIPPLE, RIPPLE, 16).view(1, 1, 4, 4)
    ripple = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)[0, 0]
    field = level * tint[:, None, None] + (ramp + ripple)[None]
    return field.clamp(0.0, 1.0)


def band_mask(g: torch.Generator, size: int) -> Tensor:
    """A ``size x size`` weight, 1 inside a band along one side (top, bottom, left or right, drawn),
    `DEPTH` of the side deep, falling linearly to 0 over `EDGE` pixels."""
    depth = float(_uniform(g, *DEPTH)) * size
    side = int(torch.randint(4, (), generator=g))
    rows = torch.arange(size, dtype=torch.float32) + 0.5
    profile = ((depth - rows) / EDGE + 0.5).clamp(0.0, 1.0)  # 1 near row 0, 0 past `depth`
    mask = profile[:, None].expand(size, size)
    if side % 2:
        mask = mask.flip(0)
    return mask.t() if side >= 2 else mask


def add_smooth_band(g: torch.Generator, gt: Tensor) -> Tensor:
    """`gt` (``3 x P x P``) with a drawn band replaced by a drawn `smooth_field`."""
    size = gt.shape[-1]
    field = smooth_field(g, size)
    mask = band_mask(g, size)
    return gt * (1.0 - mask) + field * mask
