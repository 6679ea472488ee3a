"""Peak signal-to-noise ratio as restoration papers report it (BasicSR's ``calculate_psnr``)."""

from __future__ import annotations

import torch

from .convert import finish, prepare_pair


def psnr(a, b, crop_border: int = 0, y_channel: bool = False):
    """PSNR in dB on the 0-255 scale, one value per image; identical images score ``inf`` (as BasicSR).

    `a`, `b`: ``H x W [x C]`` numpy arrays on the 0-255 scale (returns a float), or ``B x C x H x W``
    tensors in [0, 1] (returns a (B,) tensor; a ``C x H x W`` tensor gives a 0-dim tensor).
    `crop_border` pixels are dropped on every side; `y_channel` scores the BT.601 luma (16-235) only.
    """
    x, y, kind = prepare_pair(a, b, crop_border, y_channel, "psnr")
    mse = (x - y).pow(2).mean(dim=(1, 2, 3))
    values = 10.0 * torch.log10(255.0**2 / mse)
    return finish(values, kind)
