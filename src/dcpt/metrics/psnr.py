"""Peak signal-to-noise ratio as restoration papers report it (BasicSR's ``calculate_psnr``)."""

from __future__ import annotations

import torch
from torch import Tensor

from .convert import ImageLike, prepare_pair


def psnr(a: ImageLike, b: ImageLike, crop_border: int = 0, y_channel: bool = False) -> Tensor:
    """PSNR in dB on the 0-255 scale: a float64 tensor of shape (B,), one value per image.

    Always a tensor, whatever the input, so that callers never branch on the type: ``B x C x H x W``
    tensors in [0, 1] give B values; one ``C x H x W`` tensor, or one numpy ``H x W [x C]`` image on
    the 0-255 scale (BasicSR's ``calculate_psnr`` input), gives shape (1,) (``.item()`` for a float).
    Identical images score ``inf`` (as BasicSR). `crop_border` pixels are dropped on every side;
    `y_channel` scores the BT.601 luma (16-235) only, as the papers' Y-channel tables.
    """
    x, y = prepare_pair(a, b, crop_border, y_channel, "psnr")
    mse = (x - y).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0**2 / mse)
