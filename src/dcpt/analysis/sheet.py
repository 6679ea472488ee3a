"""Contact sheets: every degradation at a light, a medium and a severe level on one image.

A sheet is the quickest way to see whether a level range is sensible and whether "higher is worse"
holds. The image is centre-cropped to a square and resized to the tile size first, so each op acts at
the scale it is shown at. Row one holds the clean tile; then one row per type with its three
`DegradationSpec.sheet_levels`, each tile captioned with the name and level.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from ..data.io import to_uint8
from ..degrade.apply import apply
from ..degrade.core import DEGRADATIONS, check_image
from ..errors import DcptError

CAPTION_HEIGHT = 16
GAP = 4
BACKGROUND = (255, 255, 255)
MIN_TILE, MAX_TILE = 32, 1024


def square_tile(img: Tensor, size: int) -> Tensor:
    """Centre-crop a ``3 x H x W`` image to a square and resize it to ``1 x 3 x size x size`` (antialiased)."""
    x = check_image(img[None] if img.ndim == 3 else img)[:1]
    side = min(x.shape[-2:])
    top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
    x = x[..., top : top + side, left : left + side].float()
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)
    return x.clamp(0.0, 1.0)


def resolve_types(types: Optional[Iterable[str]]) -> List[str]:
    """Canonical names for `types` (names, aliases or comma-separated lists); all registered ones if None."""
    if types is None:
        names = DEGRADATIONS.names()
    else:
        parts = [part.strip() for item in types for part in item.split(",")]
        if not all(parts):
            raise DcptError(
                f"--types {' '.join(types)!r}: an empty type name; expected names separated by single "
                "commas or spaces, such as 'haze,rain'"
            )
        names = [DEGRADATIONS.canonical(part) for part in parts]
    if not names:
        raise DcptError("no degradation types to show: none registered or none given")
    return list(dict.fromkeys(names))


def render_sheet(
    img: Tensor, types: Optional[Sequence[str]] = None, size: int = 192, seed: int = 0
) -> Image.Image:
    """A contact sheet (RGB Pillow image) of `img` under each type at its three sheet levels."""
    if not MIN_TILE <= size <= MAX_TILE:
        raise DcptError(f"tile size must be in [{MIN_TILE}, {MAX_TILE}] pixels, got {size}")
    names = resolve_types(types)
    tile = square_tile(img, size)
    rows = [[("clean", "", tile[0])]]
    for name in names:
        spec = DEGRADATIONS.get(name)
        levels = spec.sheet_levels()
        generator = torch.Generator().manual_seed(seed)
        out = apply(
            name, tile.expand(len(levels), -1, -1, -1), level=torch.tensor(levels), generator=generator
        )
        rows.append([(name, f" {level:.3g}", out[i]) for i, level in enumerate(levels)])
    return _compose(rows, size)


def _compose(rows, size: int) -> Image.Image:
    columns = max(len(row) for row in rows)
    cell_w, cell_h = size + GAP, size + CAPTION_HEIGHT + GAP
    sheet = Image.new("RGB", (GAP + columns * cell_w, GAP + len(rows) * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, row in enumerate(rows):
        for c, (name, level, tile) in enumerate(row):
            x, y = GAP + c * cell_w, GAP + r * cell_h
            draw.text((x + 2, y + 2), _caption(draw, name, level, font, size - 4), fill=(0, 0, 0), font=font)
            sheet.paste(Image.fromarray(to_uint8(tile), "RGB"), (x, y + CAPTION_HEIGHT))
    return sheet


def _caption(draw: ImageDraw.ImageDraw, name: str, level: str, font, width: int) -> str:
    """``name level``, the name shortened with an ellipsis (never the level) until it fits `width` pixels."""
    if draw.textlength(name + level, font=font) <= width:
        return name + level
    while len(name) > 1 and draw.textlength(name + "..." + level, font=font) > width:
        name = name[:-1]
    return name + "..." + level
