"""Restore an image of any size tile by tile, with bounded memory and no seams.

Why tiles: a restoration U-Net holds several full-resolution feature maps per block, so a 4K image
needs tens of GB in one forward pass. Cut into overlapping tiles, the peak memory depends on the tile
size only; the output and a weight map are accumulated in two preallocated buffers.

How tiles are placed and blended: tiles start every ``tile - overlap`` pixels, at multiples of the
network's grid (`align`, e.g. 16 for NAFNet's four 2x downsamplings, 8 for a SwinIR window), so that
every tile sees the same downsampling phase and windows as the whole image. The last tile of a row or
column starts on the grid and runs to the image border (up to ``align - 1`` pixels longer than the
others), so no padding is added at tile edges. Each tile's output is multiplied by a separable window
and added to a preallocated output buffer; the buffer is divided by the summed window at the end.
Along an edge shared with another tile the window is zero for the first ``overlap // 4`` pixels
(where the tile lacked context), rises as a raised cosine over the middle half of the overlap and is
one beyond; along an image border it is one, so it never vanishes there. Every pixel therefore has a
positive total weight.

Exactness: a network without global operations whose receptive-field radius is at most
``overlap // 4`` pixels gives the whole-image result to float precision.

Networks with global operations: NAFNet's simplified channel attention (and PromptIR's prompt
pooling, Restormer's transposed attention) average over the whole input. Tiled, each tile computes
its own statistics, so tiles of very different content (sky versus foliage) are restored a little
differently; the smooth window hides seams but the result differs slightly from the whole-image one.
Two remedies: whole-image mode (``tile=None``) when memory allows, or NAFNet's TLC conversion
(``dcpt.models.nafnet.local_pooling``), which replaces the global average by a local window of the
training size so that tiled and whole-image inference both see training-sized statistics.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, List, Optional, Tuple

import torch
from torch import nn

from ..errors import DcptError

ProgressFn = Callable[[int, int], None]
Restorer = Callable[[torch.Tensor], torch.Tensor]
"""What tiles run through: a net, or any callable mapping B x 3 x h x w to the same shape (the ONNX engine)."""


def grid_multiple(net: Restorer) -> int:
    """The pixel grid a network computes on: its padding multiple (one pixel of its coarsest scale)."""
    for name in ("padder_size", "mask_patch_size"):
        value = getattr(net, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1


def tile_spans(size: int, tile: int, overlap: int, align: int = 1) -> List[Tuple[int, int]]:
    """``(start, length)`` of the tiles along one axis of `size` pixels.

    Starts are multiples of `align`; consecutive tiles overlap by at least `overlap`; the last tile
    ends on the border. `tile` is first rounded down to a multiple of `align` (at least `align`).
    """
    tile = max(align, tile // align * align)
    if size <= tile:
        return [(0, size)]
    stride = max(align, (tile - overlap) // align * align)
    starts = list(range(0, size - tile, stride))
    last = (size - tile) // align * align
    if last > starts[-1]:
        starts.append(last)
    return [(start, tile) for start in starts[:-1]] + [(starts[-1], size - starts[-1])]


def edge_window(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    """1-D blending weights for a tile of `length` pixels; ramps only on edges shared with a neighbour."""
    weights = torch.ones(length, dtype=torch.float32)
    margin = overlap // 4
    ramp_len = max(overlap - 2 * margin, 1)
    positions = torch.arange(length, dtype=torch.float32)
    rising = ((positions - margin + 0.5) / ramp_len).clamp(0.0, 1.0)
    rising = 0.5 - 0.5 * torch.cos(math.pi * rising)
    if ramp_start:
        weights = weights * rising
    if ramp_end:
        weights = weights * rising.flip(0)
    return weights


def count_tiles(height: int, width: int, tile: Optional[int], overlap: int = 32, align: int = 1) -> int:
    """How many tiles `restore_tiled` runs for an image of `height` x `width` pixels."""
    if not tile or (height <= tile and width <= tile):
        return 1
    return len(tile_spans(height, tile, overlap, align)) * len(tile_spans(width, tile, overlap, align))


def _check_args(img: torch.Tensor, tile: Optional[int], overlap: int, batch: int, align: int) -> None:
    if img.ndim != 4:
        raise DcptError(f"expected a B x C x H x W image tensor, got shape {tuple(img.shape)}")
    if tile and tile < 1:
        raise DcptError(f"tile must be a positive number of pixels (or 0 for whole-image mode), got {tile}")
    # Tiles start on the grid, so neighbours lie at least one grid step apart: an overlap above
    # tile - align would leave seams whose blending weights are all zero (NaN pixels).
    if overlap < 0 or (tile and overlap > max(align, tile // align * align) - align):
        raise DcptError(
            f"overlap must be in [0, tile - {align}] with tile rounded down to a multiple of {align} "
            f"pixels (the network's grid), got overlap={overlap} with tile={tile}"
        )
    if batch < 1:
        raise DcptError(f"batch must be at least 1 tile per forward pass, got {batch}")


def _net_device(net: Restorer, fallback: torch.device) -> torch.device:
    for param in net.parameters() if isinstance(net, nn.Module) else ():
        return param.device
    return fallback


def _tile_boxes(
    height: int, width: int, tile: int, overlap: int, align: int
) -> List[Tuple[int, int, int, int]]:
    return [
        (top, left, tile_h, tile_w)
        for top, tile_h in tile_spans(height, tile, overlap, align)
        for left, tile_w in tile_spans(width, tile, overlap, align)
    ]


def _same_shape_groups(boxes, batch: int) -> Iterator[list]:
    """Consecutive boxes of one shape, at most `batch` per group (they are stacked in one forward)."""
    group: list = []
    for box in boxes:
        if group and (len(group) == batch or group[0][2:] != box[2:]):
            yield group
            group = []
        group.append(box)
    if group:
        yield group


def restore_tiled(
    net: Restorer,
    img: torch.Tensor,
    tile: Optional[int] = 512,
    overlap: int = 32,
    batch: int = 1,
    progress: Optional[ProgressFn] = None,
    align: Optional[int] = None,
) -> torch.Tensor:
    """Run `net` over `img` (B x 3 x H x W, [0, 1]) tile by tile and blend the tiles without seams.

    `net` is a network or any callable that maps a B x 3 x h x w tensor to one of the same shape.

    `tile` and `overlap` are in pixels; `tile=None` or 0, or an image that fits in one tile, runs the
    whole image at once. `batch` tiles go through the network per forward pass. Tiles are moved to
    the network's device and their outputs back to `img`'s device, so a large image may stay on the
    CPU while a GPU restores it. `progress(done, total)` is called after every forward pass with the
    number of tiles finished so far. `align` (pixels) is the grid tile starts snap to; None reads it
    from the network (`grid_multiple`). The output is not clamped: callers clamp before quantising.
    See the module docstring for the effect of tiling on networks with global pooling (NAFNet).
    """
    align = grid_multiple(net) if align is None else max(1, int(align))
    _check_args(img, tile, overlap, batch, align)
    height, width = img.shape[-2:]
    device = _net_device(net, img.device)
    total = count_tiles(height, width, tile, overlap, align)
    if not tile or total == 1:  # count_tiles is 1 without a tile size; the test narrows `tile` to int
        with torch.inference_mode():
            out = net(img.to(device)).to(img.device)
        if progress is not None:
            progress(1, 1)
        return out.clone()
    with torch.inference_mode():
        return _blend_tiles(
            net, img, _tile_boxes(height, width, tile, overlap, align), overlap, batch, device, progress
        )


def _blend_tiles(net, img, boxes, overlap, batch, device, progress) -> torch.Tensor:
    height, width = img.shape[-2:]
    out: Optional[torch.Tensor] = None
    with torch.inference_mode(False):  # ordinary tensors, so callers may modify the result in place
        weight_sum = torch.zeros(1, 1, height, width, dtype=torch.float32, device=img.device)
    done = 0
    for group in _same_shape_groups(boxes, batch):
        crops = [img[..., top : top + th, left : left + tw] for top, left, th, tw in group]
        results = net(torch.cat(crops).to(device)).to(img.device).float()
        if out is None:
            with torch.inference_mode(False):
                out = torch.zeros(
                    img.shape[0], results.shape[1], height, width, dtype=torch.float32, device=img.device
                )
        for index, (top, left, tile_h, tile_w) in enumerate(group):
            window = _window_2d(top, left, tile_h, tile_w, height, width, overlap).to(img.device)
            result = results[index * img.shape[0] : (index + 1) * img.shape[0]]
            out[..., top : top + tile_h, left : left + tile_w] += result * window
            weight_sum[..., top : top + tile_h, left : left + tile_w] += window
        done += len(group)
        if progress is not None:
            progress(done, len(boxes))
    if out is None:
        raise DcptError("tiled restoration got no tiles to run")
    return out.div_(weight_sum)


def _window_2d(top, left, tile_h, tile_w, height, width, overlap) -> torch.Tensor:
    rows = edge_window(tile_h, overlap, ramp_start=top > 0, ramp_end=top + tile_h < height)
    cols = edge_window(tile_w, overlap, ramp_start=left > 0, ramp_end=left + tile_w < width)
    return rows[:, None] * cols[None, :]
