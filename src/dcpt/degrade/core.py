"""The degradation contract: specs, the registry, input checks and per-sample randomness.

Every op has the signature ``fn(img, level, gens) -> img`` where

* ``img`` is ``B x 3 x H x W``, floating point, in [0, 1], on any device;
* ``level`` is a float32 tensor of shape ``(B,)`` on ``img.device`` (one severity per sample, already
  checked against the op's range);
* ``gens`` is a list of B ``torch.Generator`` objects, one per sample, on ``img.device``.

An op draws its randomness for sample ``i`` only from ``gens[i]``. `apply` draws exactly one seed per
sample from the caller's generator to build ``gens``, so applying a degradation image by image with one
shared generator gives the same bytes as applying it to the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..errors import DcptError
from ..registry import Registry

OpFn = Callable[[Tensor, Tensor, List[torch.Generator]], Tensor]

FAMILIES = ("noise", "blur", "compression", "weather", "light", "sampling", "mixed")


@dataclass(frozen=True)
class DegradationSpec:
    """What the catalogue knows about one op; `description` says what a level means and its units."""

    name: str
    family: str
    level_min: float
    level_max: float
    description: str
    fn: OpFn = field(repr=False)
    aliases: Tuple[str, ...] = ()

    def sheet_levels(self) -> Tuple[float, float, float]:
        """Three levels spanning the range (light, medium, severe), for contact sheets and tests."""
        span = self.level_max - self.level_min
        return tuple(self.level_min + span * f for f in (0.2, 0.55, 0.95))  # type: ignore[return-value]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "level_min": self.level_min,
            "level_max": self.level_max,
            "description": self.description,
            "aliases": list(self.aliases),
        }


DEGRADATIONS: Registry[DegradationSpec] = Registry("degradation type")


def register(
    name: str,
    family: str,
    level_range: Tuple[float, float],
    description: str,
    aliases: Tuple[str, ...] = (),
) -> Callable[[OpFn], OpFn]:
    """Register ``fn(img, level, gens)`` under `name`; returns the function unchanged."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")

    def wrap(fn: OpFn) -> OpFn:
        lo, hi = float(level_range[0]), float(level_range[1])
        DEGRADATIONS.add(
            name, DegradationSpec(name, family, lo, hi, description, fn, tuple(aliases)), aliases
        )
        return fn

    return wrap


# ----------------------------------------------------------------------------- checks at the door


def check_image(img: object) -> Tensor:
    """Raise DcptError unless `img` is a floating ``B x 3 x H x W`` tensor."""
    if not isinstance(img, Tensor):
        raise DcptError(f"expected a torch.Tensor image, got {type(img).__name__}")
    if img.ndim != 4 or img.shape[1] != 3:
        raise DcptError(f"expected a B x 3 x H x W tensor, got shape {tuple(img.shape)}")
    if not img.is_floating_point():
        raise DcptError(f"expected a floating point image in [0, 1], got dtype {img.dtype}")
    return img


def as_levels(spec: DegradationSpec, level: object, batch: int, device: torch.device) -> Tensor:
    """Turn a scalar / sequence / tensor level into a checked float32 tensor of shape (B,)."""
    if level is None:
        raise DcptError(f"{spec.name} needs a level in [{spec.level_min:g}, {spec.level_max:g}]")
    t = torch.as_tensor(level, dtype=torch.float32).detach().flatten().cpu()
    if t.numel() == 1:
        t = t.expand(batch).clone()
    if t.numel() != batch:
        raise DcptError(f"{spec.name}: expected 1 or {batch} levels, got {t.numel()}")
    if not torch.isfinite(t).all():
        raise DcptError(f"{spec.name}: level must be finite, got {t.tolist()}")
    eps = 1e-6 * max(1.0, abs(spec.level_max))
    bad = (t < spec.level_min - eps) | (t > spec.level_max + eps)
    if bad.any():
        raise DcptError(
            f"level {t[bad][0].item():g} is out of range for {spec.name}: "
            f"expected [{spec.level_min:g}, {spec.level_max:g}]"
        )
    return t.clamp(spec.level_min, spec.level_max).to(device)


# ----------------------------------------------------------------------------- per-sample randomness


def sample_generators(
    batch: int,
    device: torch.device,
    generator: Optional[torch.Generator] = None,
    seeds: Optional[Sequence[int]] = None,
) -> List[torch.Generator]:
    """One generator per sample: from explicit `seeds`, else one draw each from `generator` (or torch's
    global RNG). Explicit seeds let a data set record and replay each pair exactly."""
    if seeds is None:
        seeds = torch.randint(0, 2**62, (batch,), generator=generator, dtype=torch.int64).tolist()
    else:
        seeds = [int(s) for s in torch.as_tensor(seeds).flatten().tolist()]
        if len(seeds) != batch:
            raise DcptError(f"expected {batch} seeds, one per image, got {len(seeds)}")
    dev = torch.device(device)
    return [torch.Generator(device=dev).manual_seed(s) for s in seeds]


def randn(gens: Sequence[torch.Generator], shape: Sequence[int], device, dtype=torch.float32) -> Tensor:
    """Standard normal draws, ``(B, *shape)``, sample i from ``gens[i]``."""
    return torch.stack([torch.randn(tuple(shape), generator=g, device=device, dtype=dtype) for g in gens])


def rand(gens: Sequence[torch.Generator], shape: Sequence[int], device, dtype=torch.float32) -> Tensor:
    """Uniform [0, 1) draws, ``(B, *shape)``, sample i from ``gens[i]``."""
    return torch.stack([torch.rand(tuple(shape), generator=g, device=device, dtype=dtype) for g in gens])


def uniform(gens: Sequence[torch.Generator], low: float, high: float, device) -> Tensor:
    """One uniform scalar per sample in [low, high), shape (B,)."""
    return low + (high - low) * rand(gens, (), device)
