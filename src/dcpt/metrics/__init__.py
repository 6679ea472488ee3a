"""Full-reference image quality with the conventions of restoration papers (BasicSR's PSNR and SSIM).

``psnr(a, b)`` and ``ssim(a, b)`` take torch ``B x C x H x W`` (or ``C x H x W``) images in [0, 1], or
numpy ``H x W [x C]`` images on the 0-255 scale, and always return a float64 (B,) tensor: one value
per image, as papers' tables average them (a single image gives shape (1,)).
"""

from __future__ import annotations

from .psnr import psnr
from .ssim import ssim

__all__ = ["psnr", "ssim"]
