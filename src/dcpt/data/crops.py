"""Where a training crop comes from: a random window, an optional rescale, flips and turns.

Shared by the synthetic pairs (`synthetic`), the paired folders (`paired`) and `make-dataset`: each
function takes the generator it draws from, so the caller decides what seeds it.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError


def pad_to_patch(img: Tensor, patch: int) -> Tensor:
    """Reflect-pad the bottom and right of ``3 x H x W`` `img` to at least `patch` (repeats if tiny)."""
    _, h, w = img.shape
    pad = ((0, 0), (0, max(0, patch - h)), (0, max(0, patch - w)))
    return torch.from_numpy(np.pad(img.numpy(), pad, mode="symmetric"))


def check_patch(img: Tensor, patch: int, what: str) -> None:
    _, h, w = img.shape
    if h < patch or w < patch:
        raise DataError(
            f"{what} is {h}x{w} pixels, smaller than the {patch}x{patch} patch (use pad_small=True)"
        )


def draw_crop(g: torch.Generator, height: int, width: int, patch: int) -> Tuple[int, int]:
    """Top-left corner of a uniformly random `patch` x `patch` window."""
    top = int(torch.randint(height - patch + 1, (), generator=g))
    left = int(torch.randint(width - patch + 1, (), generator=g))
    return top, left


def draw_scale(
    g: torch.Generator, scale_range: Tuple[float, float], height: int, width: int, patch: int
) -> int:
    """Side of the window that becomes a `patch` crop at a random scale in `scale_range` (one draw).

    A scale ``s < 1`` shrinks the photograph: a window of ``patch / s`` pixels is resized down to
    `patch`, so a few training photographs show their content at many sizes. The window never
    exceeds the image, which caps how far a small image can shrink.
    """
    lo, hi = scale_range
    s = lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))
    return max(patch, min(int(round(patch / s)), height, width))


def resize_crop(crop: Tensor, patch: int) -> Tensor:
    """Shrink a square ``3 x W x W`` crop to ``patch x patch``, antialiased (no aliasing that
    could pass for noise or rain); a crop already of side `patch` is returned untouched."""
    if crop.shape[-1] == patch:
        return crop
    out = torch.nn.functional.interpolate(
        crop[None], size=(patch, patch), mode="bilinear", align_corners=False, antialias=True
    )[0]
    return out.clamp_(0.0, 1.0)


def draw_augment(g: torch.Generator) -> Tuple[bool, bool, int]:
    """(horizontal flip, vertical flip, number of 90-degree turns); always three draws."""
    flips = torch.rand(2, generator=g)
    turns = int(torch.randint(4, (), generator=g))
    return bool(flips[0] < 0.5), bool(flips[1] < 0.5), turns


def augment(img: Tensor, hflip: bool, vflip: bool, turns: int) -> Tensor:
    """Flip left-right, then up-down, then rotate counter-clockwise by ``90 * turns`` degrees."""
    if hflip:
        img = img.flip(-1)
    if vflip:
        img = img.flip(-2)
    if turns:
        img = torch.rot90(img, turns, dims=(-2, -1))
    return img.contiguous()
