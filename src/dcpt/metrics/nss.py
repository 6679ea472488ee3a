"""Natural-scene statistics shared by the no-reference metrics (PIQE, NIQE), batched and in float64.

Every helper works on ``B x 1 x H x W`` luma tensors on the 0-255 scale, on any device, and
reproduces the MATLAB functions the metrics were defined with: ``fspecial('gaussian')``,
``imfilter(..., 'replicate')``, ``padarray(..., 'symmetric')`` and ``imresize`` (bicubic, antialiased).
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DcptError

# Luma weights. YIQ's Y is MATLAB's rgb2gray (pyiqa's default for PIQE and NIQE); the BT.601 Y of
# YCbCr (16-235 on the 0-255 scale) is what BasicSR's NIQE scores.
YIQ_Y_WEIGHTS = (0.299, 0.587, 0.114)
YCBCR_Y_WEIGHTS = (65.481, 128.553, 24.966)
YCBCR_Y_OFFSET = 16.0

# The local statistics' window: fspecial('gaussian', 7, 7/6).
KERNEL_SIZE, KERNEL_SIGMA = 7, 7.0 / 6.0

# The shape parameter grid of the generalised Gaussian fit (BRISQUE / NIQE papers' code): 0.2:0.001:10.
AGGD_GRID_START, AGGD_GRID_STEP, AGGD_GRID_SIZE = 0.2, 0.001, 9801


def batch_of_images(img: Tensor, metric: str) -> Tensor:
    """A ``B x C x H x W`` (C = 1 or 3) float64 copy of `img`, which may also be one ``C x H x W`` image."""
    if not isinstance(img, Tensor):
        raise DcptError(f"{metric}: expected a torch tensor, got {type(img).__name__}")
    if img.ndim == 3:
        img = img[None]
    if img.ndim != 4 or img.shape[1] not in (1, 3):
        raise DcptError(
            f"{metric}: expected a B x 3 x H x W (or B x 1 x H x W, or C x H x W) tensor, "
            f"got shape {tuple(img.shape)}"
        )
    if not img.is_floating_point():
        raise DcptError(f"{metric}: expected a float tensor in [0, 1], got dtype {img.dtype}")
    return img.detach().to(torch.float64)


def luma(img: Tensor, color_space: str) -> Tensor:
    """``B x 1 x H x W`` luma on the 0-255 scale of a [0, 1] image, not rounded.

    ``"yiq"``: 0.299 R + 0.587 G + 0.114 B (MATLAB's rgb2gray), in [0, 255]. ``"ycbcr"``: the BT.601
    Y of YCbCr, in [16, 235]. A one-channel image is taken as luma already (scaled to 0-255).
    """
    if img.shape[1] == 1:
        return img * 255.0
    if color_space == "yiq":
        weights = torch.tensor(YIQ_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
        return (img * weights).sum(dim=1, keepdim=True) * 255.0
    weights = torch.tensor(YCBCR_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img * weights).sum(dim=1, keepdim=True) + YCBCR_Y_OFFSET


def gaussian_taps(
    size: int = KERNEL_SIZE, sigma: float = KERNEL_SIGMA, dtype: torch.dtype = torch.float64
) -> Tensor:
    """Normalised 1-D Gaussian taps; their outer product is MATLAB's ``fspecial('gaussian', size, sigma)``
    (whose cut of values under eps x max removes nothing at these sizes)."""
    offsets = torch.arange(size, dtype=dtype) - (size - 1) / 2.0
    taps = torch.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return taps / taps.sum()


def mscn(img: Tensor, arithmetic: str) -> Tensor:
    """Mean-subtracted, contrast-normalised coefficients ``(I - mu) / (sd + 1)``.

    `mu` and `sd` are local statistics under MATLAB's ``fspecial('gaussian', 7, 7/6)`` window; the
    image is extended by replicating its edge pixels (``imfilter(..., 'replicate')``). In exact
    arithmetic a perfectly flat area (JPEG's smooth blocks, saturated skies) has coefficients 0; a
    float implementation gives it tiny ones whose sign decides how the AGGD fits of NIQE count them,
    which moves NIQE by several percent on JPEG images. `arithmetic` reproduces each reference:

    * ``"pyiqa"``: float64 with the window's weights stored in float32, as pyiqa stores them: they sum
      to 1 + 1.1e-8, so flat areas of level c get coefficients of about -1.1e-8 c;
    * ``"basicsr"``: the image and its local statistics (the window applied as two float64 1-D
      passes) rounded to float32, as BasicSR's float32 arrays: flat areas get coefficients of exactly 0.
    """
    pad = KERNEL_SIZE // 2
    stacked = torch.cat([img, img * img], dim=1).flatten(0, 1)[:, None]
    if arithmetic == "basicsr":
        stacked = stacked.float().double()
    stacked = F.pad(stacked, (pad, pad, pad, pad), mode="replicate")
    if arithmetic == "pyiqa":
        window = torch.outer(*(2 * [gaussian_taps(dtype=img.dtype)])).float()
        moments = F.conv2d(stacked, window.to(stacked).view(1, 1, KERNEL_SIZE, KERNEL_SIZE))
    else:
        taps = gaussian_taps(dtype=img.dtype).to(img.device)
        moments = F.conv2d(F.conv2d(stacked, taps.view(1, 1, -1, 1)), taps.view(1, 1, 1, -1))
    moments = moments.view(img.shape[0], 2, *img.shape[-2:])
    mu, second = moments[:, :1], moments[:, 1:]
    if arithmetic == "basicsr":
        x, mu, second = img.float(), mu.float(), second.float()
        return ((x - mu) / (torch.sqrt((second - mu * mu).abs()) + 1.0)).double()
    return (img - mu) / (torch.sqrt((second - mu * mu).abs()) + 1.0)


def pad_symmetric(img: Tensor, bottom: int, right: int) -> Tensor:
    """Extend the bottom and right edges by mirroring, the edge pixel included (MATLAB 'symmetric')."""
    height, width = img.shape[-2:]
    rows = torch.arange(height + bottom, device=img.device)
    cols = torch.arange(width + right, device=img.device)
    rows = torch.where(rows < height, rows, 2 * height - 1 - rows).clamp_(0, height - 1)
    cols = torch.where(cols < width, cols, 2 * width - 1 - cols).clamp_(0, width - 1)
    return img[..., rows[:, None], cols[None, :]]


def blocks(img: Tensor, size: int) -> Tensor:
    """Non-overlapping ``size x size`` blocks of a ``B x 1 x H x W`` image -> ``B x N x size x size``.

    Only whole blocks are taken (a partial row or column of blocks at the bottom or right is dropped),
    row by row.
    """
    tiles = img[:, 0].unfold(1, size, size).unfold(2, size, size)
    return tiles.reshape(img.shape[0], -1, size, size)


def _cubic(x: Tensor) -> Tensor:
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _resize_matrix(in_len: int, scale: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The ``out x in`` matrix of MATLAB's ``imresize`` along one axis (bicubic, antialiased when
    shrinking, mirrored edges)."""
    out_len = math.ceil(in_len * scale)
    width = 4.0 / scale if scale < 1 else 4.0
    taps = math.ceil(width) + 2
    x = torch.arange(1, out_len + 1, dtype=dtype)
    centre = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = torch.floor(centre - width / 2.0)
    index = left[:, None] + torch.arange(taps, dtype=dtype)[None, :]
    distance = centre[:, None] - index
    weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    mirror = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    source = mirror[torch.remainder(index.long() - 1, 2 * in_len)]
    matrix = torch.zeros(out_len, in_len, dtype=dtype)
    matrix.scatter_add_(1, source, weights)
    return matrix.to(device)


def imresize(img: Tensor, scale: float) -> Tensor:
    """MATLAB's ``imresize(img, scale)`` (bicubic; antialiased when shrinking) of ``B x C x H x W``."""
    rows = _resize_matrix(img.shape[-2], scale, img.dtype, img.device)
    cols = _resize_matrix(img.shape[-1], scale, img.dtype, img.device)
    return rows @ img @ cols.T


def _aggd_grid(dtype: torch.dtype, device: torch.device) -> Tuple[Tensor, Tensor]:
    shapes = AGGD_GRID_START + AGGD_GRID_STEP * torch.arange(AGGD_GRID_SIZE, dtype=dtype, device=device)
    ratio = torch.exp(2 * torch.lgamma(2 / shapes) - torch.lgamma(1 / shapes) - torch.lgamma(3 / shapes))
    return shapes, ratio


def fit_aggd(samples: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Asymmetric generalised Gaussian fit by moment matching, over the last dimension.

    Returns ``(alpha, beta_left, beta_right)``, each of `samples`' shape without its last dimension.
    `alpha` is the grid point of 0.2:0.001:10 whose ratio Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) is
    nearest the sample's; a sample with no negative (or no positive) value has no left (right) spread:
    its betas are NaN and its alpha the grid's first point, 0.2, as the papers' MATLAB code gives.
    """
    left, right = samples < 0, samples > 0
    square = samples * samples
    left_sd = torch.sqrt((square * left).sum(-1) / left.sum(-1))
    right_sd = torch.sqrt((square * right).sum(-1) / right.sum(-1))
    gamma_hat = left_sd / right_sd
    r_hat = samples.abs().mean(-1) ** 2 / square.mean(-1)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    shapes, ratio = _aggd_grid(samples.dtype, samples.device)
    # The ratio rises with alpha, so the nearest grid point is one of the two around r_norm.
    upper = torch.searchsorted(ratio, r_norm.contiguous()).clamp_(1, AGGD_GRID_SIZE - 1)
    lower = upper - 1
    nearest = torch.where((ratio[upper] - r_norm).abs() < (r_norm - ratio[lower]).abs(), upper, lower)
    alpha = torch.where(torch.isnan(r_norm), shapes[0], shapes[nearest])
    spread = torch.exp(0.5 * (torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)))
    return alpha, left_sd * spread, right_sd * spread
