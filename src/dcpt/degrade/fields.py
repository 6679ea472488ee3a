"""Random fields and filters shared by the weather and sampling ops.

Streaks, flakes and masks are built as per-sample random fields filtered by per-sample kernels. The
kernels are evaluated on a *wrapped* pixel grid (offset 0 at index 0, negative offsets at the end) so
that one FFT product convolves every sample with its own kernel, whatever the kernel's extent: the cost
does not grow with streak length or flake size. The wrap-around is harmless for stationary noise fields.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import core


def wrapped_offsets(height: int, width: int, device, dtype) -> Tuple[Tensor, Tensor]:
    """Signed pixel offsets ``(dy, dx)``, each ``H x W``, with offset 0 at index 0 (FFT kernel layout)."""
    dy = (torch.arange(height, device=device) + height // 2) % height - height // 2
    dx = (torch.arange(width, device=device) + width // 2) % width - width // 2
    return dy.to(dtype)[:, None].expand(height, width), dx.to(dtype)[None, :].expand(height, width)


def fft_filter(field: Tensor, kernel: Tensor) -> Tensor:
    """Circular convolution of ``field`` (``B x H x W``) with a wrapped ``kernel`` of the same shape.

    One transform per sample: batched FFTs may round differently from single ones, and a sample must
    come out with the same bytes whatever batch it is in."""
    size = field.shape[-2:]
    return torch.stack(
        [torch.fft.irfft2(torch.fft.rfft2(f) * torch.fft.rfft2(k), s=size) for f, k in zip(field, kernel)]
    )


def line_kernel(
    height: int, width: int, angle: Tensor, length: Tensor, thickness: Tensor, device, dtype
) -> Tensor:
    """Wrapped ``B x H x W`` kernels of soft line segments with a peak of 1.

    `angle` is measured from the vertical in radians: the line runs along ``(sin a, cos a)`` in ``(x, y)``
    image coordinates (y down), so a positive angle runs from top left to bottom right; `length` is the
    full length and `thickness` the Gaussian sigma across the line, both in pixels; all are ``(B,)``.
    """
    dy, dx = wrapped_offsets(height, width, device, dtype)
    sin, cos = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    along = dx * sin + dy * cos
    across = dx * cos - dy * sin
    half = (length / 2)[:, None, None]
    taper = (1 - (along / half) ** 2).clamp(min=0).sqrt()
    sigma = thickness[:, None, None]
    return taper * torch.exp(-0.5 * (across / sigma) ** 2)


def blob_kernel(
    height: int, width: int, radius: Tensor, stretch: Tensor, angle: Tensor, device, dtype
) -> Tensor:
    """Wrapped ``B x H x W`` Gaussian blobs with a peak of 1: sigma `radius` (pixels) across and
    ``radius * stretch`` along `angle` (radians from the vertical), all ``(B,)``."""
    dy, dx = wrapped_offsets(height, width, device, dtype)
    sin, cos = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    along = (dx * sin + dy * cos) / (radius * stretch)[:, None, None]
    across = (dx * cos - dy * sin) / radius[:, None, None]
    return torch.exp(-0.5 * (along**2 + across**2))


def sparse_seeds(
    gens: Sequence[torch.Generator], height: int, width: int, density: Tensor, device, dtype
) -> Tensor:
    """``B x H x W`` field of seeds: where a uniform draw ``u`` falls under `density` (``(B,)``, the
    fraction of pixels) the seed weighs ``1 - 0.6 u / density`` (in (0.4, 1]), elsewhere 0. The draws do
    not depend on the density, so a higher density keeps every seed, brightens it and adds new ones."""
    draws = core.rand(gens, (height, width), device).to(dtype)
    density = density.to(dtype)[:, None, None]
    return torch.where(draws < density, 1 - 0.6 * draws / density.clamp(min=1e-12), torch.zeros_like(draws))


def smooth_noise(
    gens: Sequence[torch.Generator], height: int, width: int, cell: float, device, dtype
) -> Tensor:
    """``B x H x W`` smooth zero-mean, unit-ish random field whose features are about `cell` pixels wide
    (bicubic upsampling of a coarse Gaussian grid)."""
    rows, cols = max(2, math.ceil(height / cell) + 1), max(2, math.ceil(width / cell) + 1)
    coarse = core.randn(gens, (1, rows, cols), device).to(dtype)
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)[:, 0]


def gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``B x C x H x W`` with one `sigma` (pixels) and reflected borders.

    An axis one pixel long is left as it is: a reflected border does not exist there, and a
    normalised blur of a replicated single pixel is that pixel anyway.
    """
    if sigma <= 0:
        return img
    channels, height, width = img.shape[1:]
    if min(height, width) == 1:
        radius = max(1, min(int(math.ceil(3 * sigma)), max(height, width) - 1))
    else:
        radius = max(1, min(int(math.ceil(3 * sigma)), min(height, width) - 1))
    taps = torch.arange(-radius, radius + 1, device=img.device, dtype=img.dtype)
    weights = torch.exp(-0.5 * (taps / sigma) ** 2)
    weights = weights / weights.sum()
    out = img
    if width > 1:
        out = F.pad(out, (radius, radius, 0, 0), mode="reflect")
        out = F.conv2d(out, weights.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    if height > 1:
        out = F.pad(out, (0, 0, radius, radius), mode="reflect")
        out = F.conv2d(out, weights.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return out


def low_pass(img: Tensor, cells: int) -> Tensor:
    """A very smooth version of ``B x C x H x W``: area-average to about `cells` cells a side, then
    bilinear back up. Much cheaper than a Gaussian of sigma ~ H / cells, and just as featureless."""
    height, width = img.shape[-2:]
    coarse = F.adaptive_avg_pool2d(img, (min(cells, height), min(cells, width)))
    return F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
