"""The single entry point `apply` and the mixture syntax ``"name:level,name:level"``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..errors import DcptError
from .core import DEGRADATIONS, DegradationSpec, as_levels, check_image, sample_generators

Level = Union[float, Sequence[float], Tensor]
"""A severity: one number for the whole batch, or one per image (a sequence or a (B,) tensor)."""

Mixture = Sequence[Tuple[str, Optional[Level]]]
"""An ordered list of ``(name, level)`` stages; a None level takes `apply`'s `level`."""


def parse_mixture(text: str) -> List[Tuple[str, Optional[float]]]:
    """Parse ``"blur:3,jpeg:40"`` into ``[("blur", 3.0), ("jpeg", 40.0)]``; a bare name has level None."""
    stages: List[Tuple[str, Optional[float]]] = []
    parts = [part.strip() for part in text.split(",")]
    if any(parts) and not all(parts):
        raise DcptError(
            f"empty stage in degradation {text!r}: expected names separated by single commas, "
            "such as 'gaussian_blur:2,jpeg:40'"
        )
    for part in parts:
        if not part:
            continue
        name, sep, value = part.partition(":")
        level: Optional[float] = None
        if sep:
            try:
                level = float(value)
            except ValueError:
                raise DcptError(f"bad level {value!r} for {name!r} in {text!r}: expected a number") from None
        stages.append((name.strip(), level))
    if not stages:
        raise DcptError(f"empty degradation {text!r}")
    return stages


def _stages(
    name_or_mixture: Union[str, Mixture], level: Optional[Level]
) -> List[Tuple[DegradationSpec, Optional[Level]]]:
    parsed: List[Tuple[str, Optional[Level]]]
    if isinstance(name_or_mixture, str):
        parsed = list(parse_mixture(name_or_mixture))
    else:
        parsed = [(str(n), lv) for n, lv in name_or_mixture]
    if len(parsed) == 1 and parsed[0][1] is None:
        parsed = [(parsed[0][0], level)]
    elif level is not None:
        raise DcptError("give levels inside the mixture (name:level,...) or as `level`, not both")
    return [(DEGRADATIONS.get(name), lv) for name, lv in parsed]


def apply(
    name_or_mixture: Union[str, Mixture],
    img: Tensor,
    level: Optional[Level] = None,
    generator: Optional[torch.Generator] = None,
    seeds: Optional[Sequence[int]] = None,
) -> Tensor:
    """Degrade `img` (``B x 3 x H x W`` or ``3 x H x W``, in [0, 1]) and return a new image.

    `name_or_mixture` is a registered name or alias, a mixture string ``"a:1,b:2"`` or a list of
    ``(name, level)`` applied in order. `level` (scalar or one per sample) is used with a bare name.
    `generator` seeds the randomness; the same seed gives the same bytes on CPU. `seeds` (one int per
    image) replaces it where each image's randomness must be replayable on its own.
    """
    squeeze = isinstance(img, Tensor) and img.ndim == 3
    x = check_image(img[None] if squeeze else img)
    stages = _stages(name_or_mixture, level)
    batch, device = x.shape[0], x.device
    levels = [as_levels(spec, lv, batch, device) for spec, lv in stages]
    gens = sample_generators(batch, device, generator, seeds)
    out = x
    for (spec, _), lv in zip(stages, levels):
        out = spec.fn(out, lv, gens).clamp_(0.0, 1.0)
    out = out.to(x.dtype)
    return out[0] if squeeze else out


def run_stage(name: str, img: Tensor, level: Level, gens: List[torch.Generator]) -> Tensor:
    """Apply one op inside a composite op, reusing the caller's per-sample generators."""
    spec = DEGRADATIONS.get(name)
    lv = as_levels(spec, level, img.shape[0], img.device)
    return spec.fn(img, lv, gens).clamp(0.0, 1.0)


def catalogue() -> List[Dict[str, Any]]:
    """Every registered op as a dict (name, family, level_min, level_max, description, aliases)."""
    return [spec.as_dict() for _, spec in DEGRADATIONS.items()]
