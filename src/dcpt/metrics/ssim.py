"""Structural similarity as restoration papers report it (BasicSR's ``calculate_ssim``).

An 11 x 11 Gaussian window (sigma 1.5), no padding (only windows that fit wholly inside the image), the
constants of Wang et al. 2004 on the 0-255 scale, computed per channel and averaged. The window is
separable, so it runs as two 1-D depthwise convolutions over the whole batch, in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DcptError
from .convert import ImageLike, prepare_pair

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def gaussian_window_1d(
    size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA, dtype: torch.dtype = torch.float64
) -> Tensor:
    """Normalised 1-D Gaussian taps (equal to OpenCV's getGaussianKernel(size, sigma))."""
    offsets = torch.arange(size, dtype=dtype) - (size - 1) / 2
    taps = torch.exp(-(offsets**2) / (2 * sigma**2))
    return taps / taps.sum()


def ssim(a: ImageLike, b: ImageLike, crop_border: int = 0, y_channel: bool = False) -> Tensor:
    """SSIM on the 0-255 scale (1 for identical images): a float64 tensor of shape (B,), one value
    per image. Same inputs as `psnr`; a single image, tensor or numpy array, gives shape (1,)."""
    x, y = prepare_pair(a, b, crop_border, y_channel, "ssim")
    if min(x.shape[-2:]) < WINDOW_SIZE:
        raise DcptError(
            f"ssim: images must be at least {WINDOW_SIZE} x {WINDOW_SIZE} after cropping, got "
            f"{x.shape[-2]} x {x.shape[-1]}"
        )
    return ssim_of_batches(x, y)


def ssim_of_batches(x: Tensor, y: Tensor) -> Tensor:
    """SSIM of each pair of images of two ``(B, C, H, W)`` batches on the 0-255 scale, with no rounding
    and no checks, in their own dtype: differentiable, so that a loss can use the metric itself."""
    batch, channels = x.shape[:2]
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    mu_x, mu_y, xx, yy, xy = _blur_valid(stats).split(channels, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + C1) * (2 * cov + C2)) / ((mu_x**2 + mu_y**2 + C1) * (var_x + var_y + C2))
    return ssim_map.mean(dim=(1, 2, 3))


def _blur_valid(img: Tensor) -> Tensor:
    """Gaussian-weighted local means over every full window (no padding), each channel on its own."""
    groups = img.shape[1]
    taps = gaussian_window_1d(dtype=img.dtype).to(img.device)
    rows = taps.view(1, 1, -1, 1).expand(groups, 1, -1, 1)
    cols = taps.view(1, 1, 1, -1).expand(groups, 1, 1, -1)
    return F.conv2d(F.conv2d(img, rows, groups=groups), cols, groups=groups)
