"""Rain streaks in the air and raindrops on the lens."""

from __future__ import annotations

import math
from functools import partial
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import core
from .fields import fft_filter, gaussian_blur, line_kernel, line_values, sparse_seeds, stamp_filter

STREAK_SUBLAYERS = (1.0, 0.75, 0.55)
"""Relative streak lengths of the sub-layers; each has its own seeds and a slightly jittered angle."""

MAX_DROPS = 40

LINE_REACH = 6.0
"""How many sigmas across a streak its stamp reaches: the Gaussian is 1.5e-8 of its peak there."""

STAMP_MAX_SIDE = 192
"""Images whose short side is at most this stamp their streaks; larger ones filter by FFT. Streak
length and width grow with the image, so stamping costs grow with the square of the side (the densest,
longest rain, 4 images, 1 thread: 1.7 ms against 4.1 by FFT at 128 px, 8.3 against 6.8 at 256 px).
The choice depends on the image size alone, so a sample's bytes never depend on its batch."""


def _size_unit(height: int, width: int) -> float:
    """Pixels per 'reference pixel': sizes are tuned on 256 x 256 images and scale with the image."""
    return min(height, width) / 256.0


def rain_layer(level: Tensor, gens, height: int, width: int, device, dtype) -> Tuple[Tensor, Tensor]:
    """The rain layer ``B x H x W`` in [0, 1] and each sample's dominant streak angle (radians from the
    vertical, positive = top left to bottom right, see `fields.line_kernel`).

    For a level in [0, 1] per sample: streak length 12 .. 44 and thickness (sigma) 0.45 .. 1.05
    reference pixels (never under 0.6 px: thinner lines alias into staircases), seed density 0.15% ..
    0.75% of pixels, opacity 0.4 .. 0.85. The angle is drawn in [-25, 25] degrees; each sub-layer
    jitters it by up to +-4 degrees.
    """
    level = level.to(dtype)
    unit = _size_unit(height, width)
    angle = core.uniform(gens, -25.0, 25.0, device).to(dtype) * (math.pi / 180)
    spread = core.uniform(gens, 0.85, 1.15, device).to(dtype)
    length = (unit * (12 + 32 * level) * spread).clamp(min=2.0)
    thickness = (unit * (0.45 + 0.6 * level)).clamp(min=0.6)
    density = (0.0015 + 0.006 * level) / len(STREAK_SUBLAYERS)
    angles, lengths, seeds = [], [], []
    for relative_length in STREAK_SUBLAYERS:
        angles.append(angle + core.uniform(gens, -4.0, 4.0, device).to(dtype) * (math.pi / 180))
        lengths.append(length * relative_length)
        seeds.append(sparse_seeds(gens, height, width, density, device, dtype))
    # the sub-layers of all samples filtered in one call, as 3 B samples
    angles_, lengths_ = torch.cat(angles), torch.cat(lengths)
    thicknesses = thickness.repeat(len(STREAK_SUBLAYERS))
    if min(height, width) <= STAMP_MAX_SIDE:
        kernel_at = partial(
            line_values, angle=angles_[:, None], length=lengths_[:, None], thickness=thicknesses[:, None]
        )
        radius = math.ceil(float((length / 2 + LINE_REACH * thickness).max()))
        layers = stamp_filter(torch.cat(seeds), kernel_at, radius)
    else:
        kernels = line_kernel(height, width, angles_, lengths_, thicknesses, device, dtype)
        layers = fft_filter(torch.cat(seeds), kernels)
    streaks = layers.unflatten(0, (len(STREAK_SUBLAYERS), -1)).sum(dim=0)
    opacity = (0.4 + 0.45 * level)[:, None, None]
    return streaks.clamp(0.0, 1.0) * opacity, angle


@core.register(
    "rain",
    "weather",
    (0.0, 1.0),
    "rain streaks screen-blended over the image; level in [0, 1] grows streak density, length, "
    "width and opacity together (0 = light drizzle, 1 = downpour)",
)
def rain(img: Tensor, level: Tensor, gens) -> Tensor:
    layer, _ = rain_layer(level, gens, img.shape[-2], img.shape[-1], img.device, img.dtype)
    layer = layer[:, None]
    return img + layer * (1 - img)


def raindrop_maps(img: Tensor, level: Tensor, gens) -> Tuple[Tensor, Tensor, Tensor]:
    """Per pixel: the source position to sample inside a drop (``B x H x W x 2``, pixels), the drop's
    opacity (``B x H x W``) and its shading (rim darkening plus a highlight, ``B x H x W``)."""
    batch, _, height, width = img.shape
    device, dtype = img.device, img.dtype
    draws = core.rand(gens, (MAX_DROPS, 4), device).to(torch.float64).cpu()
    count = (4 + 30 * level.to(torch.float64)).cpu()
    scale = (0.025 + 0.035 * level.to(torch.float64)).cpu() * min(height, width)
    ys = torch.arange(height, device=device, dtype=dtype)[:, None]
    xs = torch.arange(width, device=device, dtype=dtype)[None, :]
    source = torch.stack(torch.broadcast_tensors(xs, ys), dim=-1).expand(batch, height, width, 2).clone()
    alpha = torch.zeros(batch, height, width, device=device, dtype=dtype)
    shade = torch.ones(batch, height, width, device=device, dtype=dtype)
    for b in range(batch):
        n_full = int(math.floor(count[b]))
        for k in range(min(MAX_DROPS, n_full + 1)):
            weight = 1.0 if k < n_full else float(count[b] - n_full)
            if weight <= 0:
                continue
            cx, cy, size, shape = (float(v) for v in draws[b, k])
            cx, cy = cx * (width - 1), cy * (height - 1)
            rx = max(1.5, float(scale[b]) * (0.6 + 0.8 * size))
            ry = rx * (1 + 0.3 * shape)
            x0, x1 = max(0, int(cx - rx)), min(width, int(cx + rx) + 2)
            y0, y1 = max(0, int(cy - ry)), min(height, int(cy + ry) + 2)
            if x0 >= x1 or y0 >= y1:
                continue
            u = (xs[:, x0:x1] - cx) / rx
            v = (ys[y0:y1] - cy) / ry
            rho2 = u * u + v * v
            rho = rho2.sqrt()
            edge = ((1 - rho) / 0.3).clamp(0, 1)
            a = weight * edge * edge * (3 - 2 * edge)
            zoom = 0.45 + 0.55 * rho2
            sx = cx - u * rx * zoom
            sy = cy - ry * 0.6 - v * ry * zoom
            rim = 1 - 0.35 * ((rho - 0.65) / 0.35).clamp(0, 1)
            glint = 0.35 * torch.exp(-((u + 0.35) ** 2 + (v + 0.45) ** 2) / 0.015)
            patch = alpha[b, y0:y1, x0:x1]
            take = a > patch
            patch.copy_(torch.where(take, a, patch))
            src = source[b, y0:y1, x0:x1]
            src[..., 0].copy_(torch.where(take, sx, src[..., 0]))
            src[..., 1].copy_(torch.where(take, sy, src[..., 1]))
            sh = shade[b, y0:y1, x0:x1]
            sh.copy_(torch.where(take, rim + glint, sh))
    return source, alpha, shade


@core.register(
    "raindrop",
    "weather",
    (0.0, 1.0),
    "raindrops on the lens: blurred, flipped and magnified views of the scene in soft-edged drops; "
    "level in [0, 1] grows the count (4 .. 34) and radius (2.5% .. 6% of the short side)",
)
def raindrop(img: Tensor, level: Tensor, gens) -> Tensor:
    height, width = img.shape[-2:]
    source, alpha, shade = raindrop_maps(img, level, gens)
    defocused = gaussian_blur(img, 1.5 * max(_size_unit(height, width), 0.3))
    grid = torch.stack(
        (2 * (source[..., 0] + 0.5) / width - 1, 2 * (source[..., 1] + 0.5) / height - 1), dim=-1
    )
    seen = F.grid_sample(defocused, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    seen = (seen * shade[:, None]).clamp(0.0, 1.0)
    alpha = alpha[:, None]
    return img * (1 - alpha) + seen * alpha
