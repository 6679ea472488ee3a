"""Sampling artefacts: Bayer mosaicing, down/up-resampling, screen moire and missing regions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DcptError
from . import core
from .fields import smooth_noise

BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
"""Colours of the 2 x 2 Bayer tile read row by row: (0, 0), (0, 1), (1, 0), (1, 1)."""


def bayer_masks(pattern: str, height: int, width: int, device, dtype) -> Tensor:
    """``3 x H x W`` one-hot masks: which colour channel each photosite of `pattern` keeps."""
    pattern = str(pattern).upper()
    if pattern not in BAYER_PATTERNS:
        raise DcptError(f"unknown Bayer pattern {pattern!r}: expected one of {', '.join(BAYER_PATTERNS)}")
    tile = torch.zeros(3, 2, 2, device=device, dtype=dtype)
    for site, colour in enumerate(pattern):
        tile["RGB".index(colour), site // 2, site % 2] = 1.0
    return tile.repeat(1, (height + 1) // 2, (width + 1) // 2)[:, :height, :width]


def bayer_mosaic(img: Tensor, pattern: str = "RGGB") -> Tensor:
    """Sample ``B x 3 x H x W`` through a Bayer colour filter array: ``B x 1 x H x W`` raw values."""
    masks = bayer_masks(pattern, img.shape[-2], img.shape[-1], img.device, img.dtype)
    return (img * masks).sum(dim=1, keepdim=True)


def demosaic_bilinear(raw: Tensor, pattern: str = "RGGB") -> Tensor:
    """Bilinear demosaicing of ``B x 1 x H x W`` raw values: each missing colour is the mean of its
    nearest photosites of that colour. Reflected borders keep the Bayer phase, so a constant image comes
    back exactly.

    Red and blue use the separable tent ``[1/2, 1, 1/2]`` in both directions; green the cross
    ``centre + (N + S + E + W) / 4``. Written as shifted sums, several times faster than a grouped
    3 x 3 convolution on CPU.
    """
    height, width = raw.shape[-2:]
    masks = bayer_masks(pattern, height, width, raw.device, raw.dtype)
    sparse = F.pad(raw * masks, (1, 1, 1, 1), mode="reflect")
    red_blue = sparse[:, 0::2]
    rows = 0.5 * (red_blue[..., :-2] + red_blue[..., 2:]) + red_blue[..., 1:-1]
    red_blue = 0.5 * (rows[..., :-2, :] + rows[..., 2:, :]) + rows[..., 1:-1, :]
    green = sparse[:, 1:2]
    cross = green[..., :-2, 1:-1] + green[..., 2:, 1:-1] + green[..., 1:-1, :-2] + green[..., 1:-1, 2:]
    green = green[..., 1:-1, 1:-1] + 0.25 * cross
    return torch.cat((red_blue[:, :1], green, red_blue[:, 1:]), dim=1)


@core.register(
    "mosaic",
    "sampling",
    (0.0, 20.0),
    "RGGB Bayer sampling then bilinear demosaicing (zipper edges, false colour); level = sigma of "
    "Gaussian noise added to the raw mosaic, in 8-bit units (the joint demosaic-denoise setting)",
    aliases=("demosaic",),
)
def mosaic(img: Tensor, level: Tensor, gens) -> Tensor:
    height, width = img.shape[-2:]
    if height < 2 or width < 2:
        # A Bayer cell is 2 x 2: an image one pixel high or wide is sensed as if its edge pixels
        # continued over the cell, so every colour is sampled, then cropped back.
        img = F.pad(img, (0, max(0, 2 - width), 0, max(0, 2 - height)), mode="replicate")
    raw = bayer_mosaic(img)
    noise = core.randn(gens, raw.shape[1:], img.device).to(img.dtype)
    raw = raw + noise * (level.to(img.dtype) / 255.0).view(-1, 1, 1, 1)
    return demosaic_bilinear(raw)[..., :height, :width]


RESAMPLE_DOWN = ("area", "bilinear", "bicubic")
RESAMPLE_UP = ("bilinear", "bicubic")


def down_up(img: Tensor, factor: float, down_mode: str, up_mode: str) -> Tensor:
    """Shrink ``B x C x H x W`` by `factor` with `down_mode` (bilinear and bicubic anti-aliased, as
    MATLAB's imresize does for the classic SR degradation) and enlarge it back to ``H x W`` with `up_mode`."""
    height, width = img.shape[-2:]
    small = (max(1, round(height / factor)), max(1, round(width / factor)))
    extra = {} if down_mode == "area" else {"align_corners": False, "antialias": True}
    out = F.interpolate(img, size=small, mode=down_mode, **extra)
    rows = upsampling_matrix(small[0], height, up_mode, img)
    cols = upsampling_matrix(small[1], width, up_mode, img)
    return rows @ out @ cols.T


def upsampling_matrix(n_in: int, n_out: int, mode: str, like: Tensor) -> Tensor:
    """The ``n_out x n_in`` matrix of torch's `mode` up-sampling along one axis (align_corners=False),
    read off by interpolating the identity. Enlarging a whole image is then two small matrix products,
    3-6x faster on CPU than `F.interpolate` itself and equal to it within float rounding."""
    eye = torch.eye(n_in, device=like.device, dtype=like.dtype).view(n_in, 1, n_in, 1)
    return F.interpolate(eye, size=(n_out, 1), mode=mode, align_corners=False).view(n_in, n_out).T


@core.register(
    "resample",
    "sampling",
    (1.5, 8.0),
    "down-sampling then up-sampling back to the input size; level = scale factor (1.5 .. 8), with "
    "area/bilinear/bicubic down and bilinear/bicubic up drawn per image",
    aliases=("downup",),
)
def resample(img: Tensor, level: Tensor, gens) -> Tensor:
    device = img.device
    down = (core.rand(gens, (), device) * len(RESAMPLE_DOWN)).long().clamp(max=len(RESAMPLE_DOWN) - 1)
    up = (core.rand(gens, (), device) * len(RESAMPLE_UP)).long().clamp(max=len(RESAMPLE_UP) - 1)
    configs = list(zip(level.tolist(), down.tolist(), up.tolist()))
    if len(set(configs)) == 1:
        factor, d, u = configs[0]
        return down_up(img, factor, RESAMPLE_DOWN[d], RESAMPLE_UP[u])
    # Samples sharing a factor and both modes go through one call (a batch is resized plane by plane,
    # so each sample's bytes do not depend on its companions).
    out = torch.empty_like(img, memory_format=torch.contiguous_format)
    for factor, d, u in sorted(set(configs)):
        index = torch.tensor([i for i, c in enumerate(configs) if c == (factor, d, u)], device=device)
        out[index] = down_up(img[index], factor, RESAMPLE_DOWN[d], RESAMPLE_UP[u])
    return out


def screen_pattern(img: Tensor, amplitude: Tensor, gens) -> Tensor:
    """Per-sample multiplicative screen pattern ``B x 3 x H x W`` with mean about 1.

    A display's RGB stripes and row gaps are a grating of about one cycle per display pixel; a camera
    whose pixels are 1.01 .. 1.06 times coarser, turned by up to +-3 degrees, point-samples that grating
    and aliases it into slow colour bands. The grating is reduced to its first harmonic (as if averaged
    by the camera pixel), each colour stripe a third of a period apart; a small quadratic phase term
    (lens distortion) bends the bands.
    """
    batch, _, height, width = img.shape
    device, dtype = img.device, img.dtype
    view = (-1, 1, 1, 1)
    pitch = core.uniform(gens, 1.01, 1.06, device).to(dtype).view(view)
    angle = (core.uniform(gens, -3.0, 3.0, device).to(dtype) * (math.pi / 180)).view(view)
    bend = core.uniform(gens, -1.0, 1.0, device).to(dtype).view(view) * 0.05
    ys = torch.arange(height, device=device, dtype=dtype).view(1, 1, -1, 1) - height / 2
    xs = torch.arange(width, device=device, dtype=dtype).view(1, 1, 1, -1) - width / 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    curve = bend * (xs**2 + ys**2) / min(height, width)
    along = pitch * (xs * cos - ys * sin) + curve
    across = pitch * (xs * sin + ys * cos) + curve
    stripe = torch.arange(3, device=device, dtype=dtype).view(1, 3, 1, 1) / 3
    amp = amplitude.to(dtype).view(view)
    columns = 1 + amp * torch.cos(2 * math.pi * (along - stripe))
    rows = 1 + 0.3 * amp * torch.cos(2 * math.pi * across)
    return columns * rows


@core.register(
    "moire",
    "sampling",
    (0.0, 1.0),
    "approximate screen-photo moire: aliased colour bands of an RGB-stripe display grating multiplied "
    "into the image; level in [0, 1] sets the grating contrast (0.05 .. 0.5)",
)
def moire(img: Tensor, level: Tensor, gens) -> Tensor:
    return img * screen_pattern(img, 0.05 + 0.45 * level.to(img.dtype), gens)


def hole_mask(level: Tensor, gens, height: int, width: int, device, dtype) -> Tensor:
    """``B x 1 x H x W`` mask (1 = missing) covering exactly ``round(level * H * W)`` pixels per sample.

    Each sample draws a style: strokes (the pixels nearest the zero crossings of a smooth random field,
    i.e. curvy bands) or blobs (the field's highest pixels). Ranking a field by a threshold that moves
    with the level makes the masks nested: a higher level only adds holes.
    """
    batch = level.shape[0]
    strokes = core.rand(gens, (), device) < 0.5
    field = smooth_noise(gens, height, width, max(2.0, min(height, width) / 5), device, dtype)
    score = torch.where(strokes.view(-1, 1, 1), field.abs(), -field).reshape(batch, -1)
    order = torch.sort(score, dim=1, stable=True).indices
    ranks = torch.empty_like(order).scatter_(
        1, order, torch.arange(score.shape[1], device=device).expand_as(order)
    )
    count = torch.round(level.to(torch.float64) * score.shape[1]).long().view(-1, 1)
    return (ranks < count).to(dtype).view(batch, 1, height, width)


@core.register(
    "inpaint",
    "sampling",
    (0.02, 0.5),
    "missing regions set to zero (curvy strokes or blobs, drawn per image); level = fraction of the "
    "image area that is masked",
)
def inpaint(img: Tensor, level: Tensor, gens) -> Tensor:
    mask = hole_mask(level, gens, img.shape[-2], img.shape[-1], img.device, img.dtype)
    return img * (1 - mask)
