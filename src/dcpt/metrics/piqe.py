"""PIQE: the Perception-based Image Quality Evaluator (Venkatanath et al., NCC 2015), no reference needed.

The image is cut into 16 x 16 blocks of its contrast-normalised luma. Blocks with enough activity
(variance of the normalised values above 0.1) are scored as distorted when an edge of the block holds a
flat 6-pixel segment (blocking, blur: the "noticeable distortion" criterion) or when the block's spread
differs from the spread of its two centre columns relative to the rest (noise); the score averages those
blocks' distortion over the active blocks, on a 0-100 scale. Lower is better: a sharp, clean photograph
typically scores 20-40, a noisy or blocky one 50 and above.

The conventions are those of pyiqa's ``piqe`` (itself a port of MATLAB's ``piqe``), which dcpt's values
match to within 1% on natural photographs, clean and degraded (``tests/metrics/test_no_reference.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .nss import batch_of_images, blocks, luma, mscn, pad_symmetric

BLOCK_SIZE = 16
ACTIVITY_THRESHOLD = 0.1
SEGMENT_LENGTH = 6
SEGMENT_THRESHOLD = 0.1


def piqe(img: Tensor) -> Tensor:
    """PIQE of each image: a float64 tensor of shape (B,), in [0, 100], lower is better.

    `img` is a ``B x 3 x H x W`` RGB (or ``B x 1 x H x W`` grey) tensor in [0, 1], or one ``C x H x W``
    image (giving shape (1,)); any device. Conventions (pyiqa's):

    * luma: Y of YIQ, 0.299 R + 0.587 G + 0.114 B, divided by the image's maximum, times 255, rounded
      (an all-black image stays 0 and scores 100 / (1 + 0) = 100);
    * border: when H or W is not a multiple of 16, the image is first extended at the bottom / right by
      ``H mod 16`` / ``W mod 16`` mirrored rows / columns, then only whole 16 x 16 blocks are scored;
    * normalisation: 7 x 7 Gaussian (sigma 7/6) local mean and spread, edges replicated, ``+1`` in the
      denominator;
    * thresholds: block activity 0.1; a 6-pixel edge segment with a standard deviation under 0.1 marks
      a noticeable distortion; standard deviations are unbiased (N - 1).

    Needs at least 16 x 16 pixels after that extension (smaller images score 100: no active block).
    """
    x = batch_of_images(img, "piqe")
    y = luma(x, "yiq")
    peak = y.amax(dim=(1, 2, 3), keepdim=True)
    y = torch.round(255.0 * y / torch.where(peak > 0, peak, torch.ones_like(peak)))
    height, width = y.shape[-2:]
    y = pad_symmetric(y, height % BLOCK_SIZE, width % BLOCK_SIZE)
    tiles = blocks(mscn(y, "pyiqa"), BLOCK_SIZE)  # B x N x 16 x 16
    if tiles.shape[1] == 0:
        return torch.full((x.shape[0],), 100.0, dtype=torch.float64, device=x.device)
    variance = tiles.var(dim=(2, 3))
    active = variance > ACTIVITY_THRESHOLD
    distorted = _noticeable_distortion(tiles).double() * (1 - variance)
    noisy = _noise(tiles, variance).double() * variance
    scores = (active * (distorted + noisy)).sum(dim=1)
    return 100.0 * (scores + 1.0) / (active.sum(dim=1) + 1.0)


def _noticeable_distortion(tiles: Tensor) -> Tensor:
    """A block whose top, bottom, left or right edge holds a flat segment of 6 pixels."""
    edges = torch.stack([tiles[..., 0, :], tiles[..., :, -1], tiles[..., -1, :], tiles[..., :, 0]], dim=2)
    segments = edges.unfold(-1, SEGMENT_LENGTH, 1)  # B x N x 4 x (16 - 5) x 6
    return (segments.std(dim=-1) < SEGMENT_THRESHOLD).flatten(2).any(dim=2)


def _noise(tiles: Tensor, variance: Tensor) -> Tensor:
    """A block whose spread differs little from the ratio of its centre's spread to its surround's."""
    sigma = variance.sqrt()
    middle = BLOCK_SIZE // 2
    centre = tiles[..., middle - 1 : middle + 1]  # the two centre columns, 7 and 8 (0-based)
    # The surround as pyiqa forms it, deleting column 7 and then the column that
    # has moved to index 8: it leaves out columns 7 and 9, and keeps centre column 8.
    keep = [c for c in range(BLOCK_SIZE) if c not in (middle - 1, middle + 1)]
    surround = tiles[..., keep]
    ratio = torch.nan_to_num(centre.std(dim=(2, 3)) / surround.std(dim=(2, 3)))
    beta = (sigma - ratio).abs() / torch.maximum(sigma, ratio)
    return sigma > 2 * beta
