"""Patch masks for MaskDCPT, and the operations that keep masked content out of a network.

A mask is a `B x 1 x H x W` float tensor, 1 = visible, 0 = masked. Two ways to use it:

* sparse (SparK, the official MaskDCPT for CNNs): in the encoder, zero masked positions after every
  block and compute any spatial statistic over visible positions only (`masked_mean`), with the mask
  taken to each scale by `resize_mask`; the decoder then runs densely and fills the holes;
* token replacement (SimMIM): `apply_mask` replaces masked positions by zeros or a learned token;
  works for any architecture, e.g. on the patch embedding of a Transformer.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import DcptError

MASK_THROUGH = (
    "all",
    "encoder",
)  # how far a net's `forward_masked` keeps the mask (see docs/architecture.md)


def check_through(through: str) -> None:
    """Raise (one line) unless `through` names a masked-forward mode of `MASK_THROUGH`."""
    if through not in MASK_THROUGH:
        raise DcptError(f"forward_masked: through must be one of {', '.join(MASK_THROUGH)}, got {through!r}")


def random_patch_mask(
    batch: int,
    height: int,
    width: int,
    patch_size: int,
    ratio: float,
    generator: Optional[torch.Generator] = None,
    device=None,
) -> torch.Tensor:
    """A `batch x 1 x height x width` float mask hiding whole `patch_size` squares.

    The patch grid starts at the top-left corner (partial patches at the bottom/right edges count as
    patches); exactly `round(ratio * number_of_patches)` patches are masked in every image. The
    random draw happens on the CPU with `generator`, so a seed gives the same mask on any device.
    """
    if patch_size < 1 or not 0.0 <= ratio <= 1.0:
        raise DcptError(f"expected patch_size >= 1 and 0 <= ratio <= 1, got {patch_size} and {ratio}")
    gh, gw = -(-height // patch_size), -(-width // patch_size)
    n = gh * gw
    n_masked = int(round(ratio * n))
    order = torch.rand(batch, n, generator=generator).argsort(dim=1)
    grid = torch.ones(batch, n)
    grid.scatter_(1, order[:, :n_masked], 0.0)
    grid = grid.view(batch, 1, gh, gw)
    mask = grid.repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)
    return mask[:, :, :height, :width].contiguous().to(device)


def check_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`mask` as a float tensor of `x`'s dtype; raises if it is not `B x 1 x H x W` for `x`."""
    expected = (x.shape[0], 1, *x.shape[-2:])
    if mask.dim() != 4 or tuple(mask.shape) != expected:
        raise DcptError(f"expected a mask of shape {expected} (B x 1 x H x W), got {tuple(mask.shape)}")
    return mask.to(dtype=x.dtype, device=x.device)


def resize_mask(mask: torch.Tensor, size) -> torch.Tensor:
    """The mask at another scale, such that no masked content can reach a visible position.

    Shrinking uses min-pooling (a coarse pixel is visible only if all the pixels it covers are);
    growing uses nearest-neighbour repetition. With patch sizes that are multiples of the scale
    factor both are exact.
    """
    size = tuple(int(s) for s in size)
    if tuple(mask.shape[-2:]) == size:
        return mask
    if size[0] <= mask.shape[-2] and size[1] <= mask.shape[-1]:
        return 1.0 - F.adaptive_max_pool2d(1.0 - mask, size)
    return F.interpolate(mask, size=size, mode="nearest")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image, per-channel mean over visible positions: `B x C x 1 x 1`.

    The masked replacement of a global average pool; an image with nothing visible gives 0.
    """
    total = (x * mask).sum((2, 3), keepdim=True)
    count = mask.sum((2, 3), keepdim=True).clamp_min(1.0)
    return total / count


def apply_mask(x: torch.Tensor, mask: torch.Tensor, token: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Replace masked positions of a `B x C x H x W` map by zeros or by `token` (shape `(C,)`).

    `mask` may have another resolution than `x` (it is resized with `resize_mask`).
    """
    mask = resize_mask(mask.to(x.dtype), x.shape[-2:])
    if token is None:
        return x * mask
    if token.numel() != x.shape[1]:
        raise DcptError(f"expected a mask token with {x.shape[1]} values, got shape {tuple(token.shape)}")
    return x * mask + token.reshape(1, -1, 1, 1).to(x.dtype) * (1.0 - mask)


def fill_from_visible(x: torch.Tensor, mask: torch.Tensor, window: int) -> torch.Tensor:
    """`x` with each masked position replaced by the mean of the visible pixels in the `window` x
    `window` square around it (normalised convolution), or by the image's visible mean where that
    square has none; visible positions are kept.

    Why: a residual net that restores a masked image starts from its input, and zeros there put the
    masked pixels ~0.45 away from any target, which Adam needs thousands of steps to cross. This
    coarse fill uses visible pixels only, so masked content still cannot leak.
    """
    window |= 1  # odd, so the square is centred
    pool = lambda t: F.avg_pool2d(t, window, stride=1, padding=window // 2, count_include_pad=False)  # noqa: E731
    mask = mask.to(x.dtype)
    local_sum, local_count = pool(x * mask), pool(mask)
    local = local_sum / local_count.clamp_min(1e-6)
    fill = torch.where(local_count > 0, local, masked_mean(x, mask).expand_as(x))
    return x * mask + fill * (1 - mask)
