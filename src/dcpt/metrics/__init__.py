"""Full-reference image quality with the conventions of restoration papers (BasicSR's PSNR and SSIM).

``psnr(a, b)`` and ``ssim(a, b)`` take numpy ``H x W x C`` images on the 0-255 scale (-> float) or torch
``B x C x H x W`` images in [0, 1] (-> one value per image, a (B,) tensor). `METRICS` maps names to them.
"""

from __future__ import annotations

from ..registry import Registry
from .psnr import psnr
from .ssim import ssim

METRICS: Registry = Registry("metric")
METRICS.add("psnr", psnr)
METRICS.add("ssim", ssim)

__all__ = ["METRICS", "psnr", "ssim"]
