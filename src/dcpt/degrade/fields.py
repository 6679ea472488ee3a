"""Random fields and filters shared by the weather and sampling ops.

Streaks, flakes and masks are built as per-sample random fields filtered by per-sample kernels. The
kernels are evaluated on a *wrapped* pixel grid (offset 0 at index 0, negative offsets at the end) so
that one FFT product convolves every sample with its own kernel, whatever the kernel's extent: the cost
does not grow with streak length or flake size. The wrap-around is harmless for stationary noise fields.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Tuple

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
    return line_values(dy, dx, angle[:, None, None], length[:, None, None], thickness[:, None, None])


def line_values(dy: Tensor, dx: Tensor, angle: Tensor, length: Tensor, thickness: Tensor) -> Tensor:
    """The soft line segment of `line_kernel` at offsets ``(dy, dx)``; the parameters broadcast with
    them. Zero beyond half the length along the line, a Gaussian of sigma `thickness` across it."""
    sin, cos = torch.sin(angle), torch.cos(angle)
    along = dx * sin + dy * cos
    across = dx * cos - dy * sin
    taper = (1 - (along / (length / 2)) ** 2).clamp(min=0).sqrt()
    return taper * torch.exp(-0.5 * (across / thickness) ** 2)


def stamp_filter(
    seeds: Tensor, kernel_at: Callable[[Tensor, Tensor], Tensor], radius: int, floor: float = 1e-8
) -> Tensor:
    """`fft_filter` for sparse `seeds` (``B x H x W``) and kernels that vanish beyond `radius` pixels:
    each seed adds its weight times its sample's kernel around it, wrapping at the borders.

    ``kernel_at(dy, dx)`` gives the ``B x M`` kernel values at the ``M`` offsets of the box of side
    ``2 radius + 1`` (clipped to the wrapped grid); values under `floor` are left out. The cost is
    seeds times kernel support instead of an FFT of the whole image per sample, and a sample's result
    depends on that sample alone (its additions run in one fixed order), whatever batch it is in.
    """
    batch, height, width = seeds.shape
    device = seeds.device
    top, left = min(radius, height // 2), min(radius, width // 2)
    bottom, right = min(radius, height - height // 2 - 1), min(radius, width - width // 2 - 1)
    dy = torch.arange(-top, bottom + 1, device=device)
    dx = torch.arange(-left, right + 1, device=device)
    dy, dx = (t.reshape(-1) for t in torch.meshgrid(dy, dx, indexing="ij"))
    values = kernel_at(dy.to(seeds.dtype), dx.to(seeds.dtype)).expand(batch, -1)
    # each sample's kept offsets first (stable order), padded with zero-valued entries to a common count
    keep = values > floor
    order = torch.sort(keep.to(torch.uint8), dim=1, descending=True, stable=True).indices
    order = order[:, : max(1, int(keep.sum(1).max()))]
    kept_values = values.gather(1, order) * keep.gather(1, order)
    # stamp on a canvas with a margin of the box's reach, then fold the margins back (wrap-around)
    canvas_h, canvas_w = height + top + bottom, width + left + right
    flat = seeds.reshape(-1)
    where = flat.nonzero().squeeze(1)
    sample = where // (height * width)
    y, x = (where // width) % height, where % width
    base = (sample * canvas_h + y + top) * canvas_w + x + left
    step = (dy * canvas_w + dx)[order]
    canvas = torch.zeros(batch * canvas_h * canvas_w, device=device, dtype=seeds.dtype)
    canvas.index_add_(
        0, (base[:, None] + step[sample]).reshape(-1), (flat[where, None] * kept_values[sample]).reshape(-1)
    )
    canvas = canvas.view(batch, canvas_h, canvas_w)
    rows = canvas[:, top : top + height].clone()
    rows[:, height - top :] += canvas[:, :top]
    rows[:, :bottom] += canvas[:, top + height :]
    out = rows[..., left : left + width].clone()
    out[..., width - left :] += rows[..., :left]
    out[..., :right] += rows[..., left + width :]
    return out


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
