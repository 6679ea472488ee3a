"""NIQE: the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013), "completely
blind": no reference image and no training on distorted images.

The luma is cut into 96 x 96 blocks; each block gives 18 natural-scene features (an asymmetric generalised
Gaussian fitted to its contrast-normalised values and to the products of neighbouring values in four
directions), at full and at half resolution: 36 per block. A multivariate Gaussian fitted to the image's
blocks is compared with the one the authors fitted to pristine photographs (shipped in
``dcpt/assets/niqe/``); NIQE is the Mahalanobis-like distance between the two. Lower is better: sharp,
clean photographs score about 2-5; noise, blur and blocking raise it.

Two references are in use, pyiqa's ``niqe`` and BasicSR's ``calculate_niqe`` (both ports of the authors'
MATLAB release); they differ in their luma and in how they treat perfectly flat areas (see
`dcpt.metrics.nss.mscn`), by up to 10% on JPEG images. ``convention="pyiqa"`` (default) reproduces
pyiqa's values and ``"basicsr"`` BasicSR's, each to within 1% on natural photographs, clean and degraded
(``tests/metrics/test_no_reference.py``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib.resources import files
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from ..errors import DcptError
from .nss import batch_of_images, blocks, fit_aggd, imresize, luma, mscn

BLOCK_SIZE = 96
NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, main and anti-diagonal
PRISTINE_FILE = "assets/niqe/niqe_pris_params.npz"
# convention -> (luma, arithmetic of the local statistics); see nss.luma and nss.mscn.
CONVENTIONS = {"pyiqa": ("yiq", "pyiqa"), "basicsr": ("ycbcr", "basicsr")}


@lru_cache(maxsize=1)
def pristine_model() -> Tuple[Tensor, Tensor]:
    """The authors' pristine multivariate Gaussian: mean (36,) and covariance (36, 36), float64."""
    with (files("dcpt") / PRISTINE_FILE).open("rb") as handle, np.load(handle) as params:
        mean = torch.from_numpy(np.ravel(params["mu_pris_param"]).astype(np.float64))
        cov = torch.from_numpy(np.asarray(params["cov_pris_param"], dtype=np.float64))
    return mean, cov


def niqe(img: Tensor, convention: str = "pyiqa", crop_border: int = 0) -> Tensor:
    """NIQE of each image: a float64 tensor of shape (B,), lower is better.

    `img` is a ``B x 3 x H x W`` RGB (or ``B x 1 x H x W`` grey) tensor in [0, 1], or one ``C x H x W``
    image (giving shape (1,)); any device. Conventions (the authors' MATLAB release, as pyiqa and BasicSR):

    * luma on the 0-255 scale, rounded to integers: ``convention="pyiqa"`` (default) takes the Y of
      YIQ, 0.299 R + 0.587 G + 0.114 B (MATLAB's rgb2gray); ``"basicsr"`` the BT.601 Y of YCbCr, 16-235;
    * border: `crop_border` pixels are dropped on every side, then the image is cut to whole 96 x 96
      blocks from the top-left corner (the rest of the bottom rows and right columns is not scored); it
      needs two blocks at least (one block has no covariance: the references give NaN), else DcptError;
    * normalisation: 7 x 7 Gaussian (sigma 7/6) local mean and spread, edges replicated, ``+1`` in the
      denominator, in the convention's arithmetic (`dcpt.metrics.nss.mscn`: flat areas give small
      negative coefficients with pyiqa, zeros with BasicSR); the second scale is MATLAB's bicubic
      ``imresize(0.5)`` (antialiased), 48 x 48 blocks;
    * features of a block with no negative or no positive coefficient are NaN where undefined: such
      values are left out of the mean feature-wise, and such blocks out of the covariance (nanmean,
      nancov), as the reference code does; the distance uses the pseudo-inverse of the mean covariance.
      An image with fewer than two blocks whose features are all defined (a flat one) scores NaN.
    """
    x = batch_of_images(img, "niqe")
    if convention not in CONVENTIONS:
        raise DcptError(f"niqe: unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    color_space, arithmetic = CONVENTIONS[convention]
    if crop_border < 0:
        raise DcptError(f"niqe: crop_border must be >= 0, got {crop_border}")
    y = torch.round(luma(x, color_space))
    if crop_border:
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
    height, width = y.shape[-2:]
    if (height // BLOCK_SIZE) * (width // BLOCK_SIZE) < 2:
        raise DcptError(
            f"niqe: needs two {BLOCK_SIZE} x {BLOCK_SIZE} blocks at least (e.g. {BLOCK_SIZE} x "
            f"{2 * BLOCK_SIZE} pixels) after crop_border {crop_border}, got {height} x {width}"
        )
    y = y[..., : height // BLOCK_SIZE * BLOCK_SIZE, : width // BLOCK_SIZE * BLOCK_SIZE]
    full = block_features(mscn(y, arithmetic), BLOCK_SIZE)
    half = imresize(y / 255.0, 0.5) * 255.0
    if arithmetic == "basicsr":  # BasicSR resizes in float32
        half = half.float().double()
    features = torch.cat([full, block_features(mscn(half, arithmetic), BLOCK_SIZE // 2)], dim=2)
    mean, cov = pristine_model()
    return _distance(features, mean.to(x.device), cov.to(x.device))


def block_features(coefficients: Tensor, size: int) -> Tensor:
    """The 18 NIQE features of every ``size x size`` block of ``B x 1 x H x W`` normalised coefficients.

    Per block: the shape and mean scale of an AGGD fitted to the coefficients, then for each of the four
    neighbour directions the shape, mean, left and right scale of an AGGD fitted to the products of each
    coefficient with its neighbour (the block wraps around, as MATLAB's circshift). ``B x N x 18``.
    """
    tiles = blocks(coefficients, size)
    samples = [tiles] + [tiles * torch.roll(tiles, shift, dims=(-2, -1)) for shift in NEIGHBOUR_SHIFTS]
    alpha, left, right = fit_aggd(torch.stack(samples, dim=2).flatten(3))  # each B x N x 5
    mean = (right - left) * torch.exp(torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha))
    per_shift = torch.stack([alpha, mean, left, right], dim=3)[:, :, 1:].flatten(2)  # B x N x 16
    return torch.cat([alpha[..., :1], (left[..., :1] + right[..., :1]) / 2, per_shift], dim=2)


def _distance(features: Tensor, pristine_mean: Tensor, pristine_cov: Tensor) -> Tensor:
    """sqrt((mu_p - mu)^T pinv((S_p + S) / 2) (mu_p - mu)), with nanmean / nancov over the blocks."""
    defined = ~torch.isnan(features)
    mean = torch.where(defined, features, torch.zeros_like(features)).sum(1) / defined.sum(1)
    complete = defined.all(dim=2, keepdim=True).to(features.dtype)  # blocks without a NaN feature
    count = complete.sum(1)
    filled = torch.where(complete.bool(), features, torch.zeros_like(features))
    centred = (filled - (filled.sum(1) / count.clamp(min=1))[:, None]) * complete
    cov = centred.transpose(1, 2) @ centred / (count - 1).clamp(min=1)[..., None]
    diff = torch.nan_to_num(pristine_mean - mean)[..., None]
    inverse = torch.linalg.pinv((pristine_cov + cov) / 2)
    distance = (diff.transpose(1, 2) @ inverse @ diff).flatten().sqrt()
    # Fewer than two blocks with every feature defined (a flat image): no covariance, no score.
    return torch.where(count.flatten() >= 2, distance, torch.full_like(distance, math.nan))
