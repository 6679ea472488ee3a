"""Input handling shared by the full-reference metrics: BasicSR's conventions in one place.

Both metrics work on the 0-255 scale in float64. numpy inputs are ``H x W [x C]`` arrays already on that
scale (uint8 or float, as BasicSR's ``calculate_psnr``); torch inputs are ``B x C x H x W`` or
``C x H x W`` tensors in [0, 1] (as BasicSR's ``calculate_psnr_pt``). Every input becomes a batch, so
every metric returns one type: a float64 tensor of shape (B,), one value per image (B = 1 for a single
image, whether a numpy array or a 3-D tensor).
"""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import DcptError

# ITU-R BT.601 luma for RGB in [0, 1], giving Y in [16, 235] (BasicSR's rgb2ycbcr with y_only=True).
BT601_Y_WEIGHTS = (65.481, 128.553, 24.966)
BT601_Y_OFFSET = 16.0

ImageLike = Union[np.ndarray, Tensor]
"""What a metric accepts: a numpy ``H x W [x C]`` image on the 0-255 scale, or a [0, 1] tensor."""


def prepare_pair(
    a: ImageLike, b: ImageLike, crop_border: int, y_channel: bool, metric: str
) -> Tuple[Tensor, Tensor]:
    """Both images as float64 ``B x C x H x W`` tensors on the 0-255 scale, cropped and optionally luma."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        x, y = _numpy_to_batch(a, metric), _numpy_to_batch(b, metric)
    elif isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.ndim not in (3, 4):
            raise DcptError(
                f"{metric}: expected a B x C x H x W or C x H x W tensor, got shape {tuple(a.shape)}"
            )
        x, y = _tensor_to_batch(a), _tensor_to_batch(b)
    else:
        raise DcptError(
            f"{metric}: expected two numpy arrays or two torch tensors, got {type(a).__name__} "
            f"and {type(b).__name__}"
        )
    if tuple(a.shape) != tuple(b.shape):
        raise DcptError(f"{metric}: images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    if crop_border < 0:
        raise DcptError(f"{metric}: crop_border must be >= 0, got {crop_border}")
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
        if x.shape[-1] == 0 or x.shape[-2] == 0:
            raise DcptError(
                f"{metric}: crop_border {crop_border} leaves no pixels of a {tuple(a.shape)} image"
            )
    if y_channel and x.shape[1] == 3:
        x, y = rgb_to_y(x), rgb_to_y(y)
    return x, y


def rgb_to_y(img: Tensor) -> Tensor:
    """BT.601 luma of an RGB ``B x 3 x H x W`` image on the 0-255 scale -> ``B x 1 x H x W`` in [16, 235]."""
    weights = torch.tensor(BT601_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img / 255.0 * weights).sum(dim=1, keepdim=True) + BT601_Y_OFFSET


def _numpy_to_batch(arr: np.ndarray, metric: str) -> Tensor:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise DcptError(f"{metric}: expected an H x W or H x W x C array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DcptError(f"{metric}: expected a numeric image array, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64)).permute(2, 0, 1)[None]


def _tensor_to_batch(t: Tensor) -> Tensor:
    t = t.detach().to(torch.float64) * 255.0
    return t[None] if t.ndim == 3 else t
