"""Image quality with the conventions of restoration papers.

Full-reference (BasicSR's PSNR and SSIM):

``psnr(a, b)`` and ``ssim(a, b)`` take torch ``B x C x H x W`` (or ``C x H x W``) images in [0, 1], or
numpy ``H x W [x C]`` images on the 0-255 scale, and always return a float64 (B,) tensor: one value
per image, as papers' tables average them (a single image gives shape (1,)).

No-reference, for real photographs without ground truth (pyiqa's and BasicSR's conventions, lower is
better): ``piqe(img)`` and ``niqe(img)`` take a ``B x 3 x H x W`` (or ``3 x H x W``) tensor in [0, 1]
and return a float64 (B,) tensor.
"""

from __future__ import annotations

from .niqe import niqe
from .piqe import piqe
from .psnr import psnr
from .ssim import ssim

__all__ = ["niqe", "piqe", "psnr", "ssim"]
