"""Degraded / clean pairs synthesised on the fly from clean images, reproducibly.

Each item is a random crop of a clean image, optionally rescaled, randomly flipped and rotated, then
degraded by one of a
list of degradation *classes*. A class is a registered op (``"gaussian_noise"``) or a mixture
(``"gaussian_blur,jpeg"``) with a level range; its position in the list is the item's ``label``.

Determinism: everything random about item ``i`` of epoch ``e`` comes from one generator seeded by
``derive_seed(seed, e, i)``, so a DataLoader's worker count or access order cannot change the data.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..degrade import DEGRADATIONS, apply, parse_mixture
from ..errors import ConfigError, DataError
from .bad_samples import BadSamplePolicy, BadSamples, Unreadable
from .crops import augment, check_patch, draw_augment, draw_crop, draw_scale, pad_to_patch, resize_crop
from .io import list_images, read_image
from .smooth_bands import add_smooth_band

SEED_LIMIT = 2**62


def derive_seed(*parts: Union[int, str]) -> int:
    """A seed in [0, 2**62) that depends only on `parts` (ints >= 0 or strings), via numpy's SeedSequence."""
    words = [zlib.crc32(p.encode("utf-8")) if isinstance(p, str) else int(p) for p in parts]
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]
    return int(state) % SEED_LIMIT


# ----------------------------------------------------------------------------- degradation classes


@dataclass(frozen=True)
class DegradationClass:
    """One label of a classification data set: an op or a mixture, and the levels to draw from.

    For a single op, `level_range` is in the op's own units (default: the op's whole range). For a
    mixture, a level is a severity fraction ``t`` in [0, 1]: each stage given without a level runs at
    ``stage_min + t * (stage_max - stage_min)``, and stages with a level (``"jpeg:60"``) stay fixed.
    """

    name: str
    stages: Tuple[Tuple[str, Optional[float]], ...]
    level_range: Tuple[float, float]

    @property
    def is_mixture(self) -> bool:
        return len(self.stages) > 1

    @classmethod
    def parse(cls, spec) -> "DegradationClass":
        """Accept ``"name"``, ``"name:level"``, ``"a,b:2"``, ``(text, level)``, ``(text, (lo, hi))``,
        ``{"name": text, "levels": [lo, hi]}`` or a DegradationClass."""
        if isinstance(spec, DegradationClass):
            return spec
        levels = None
        if isinstance(spec, dict):
            unknown = set(spec) - {"name", "levels"}
            if unknown or "name" not in spec:
                raise ConfigError(
                    f"a degradation class needs keys 'name' and optional 'levels', got {sorted(spec)}"
                )
            text, levels = spec["name"], spec.get("levels")
        elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str):
            text, levels = spec
        elif isinstance(spec, str):
            text = spec
        else:
            raise ConfigError(f"expected a degradation name, mixture or (name, levels), got {spec!r}")
        stages = tuple((DEGRADATIONS.canonical(n), lv) for n, lv in parse_mixture(text))
        if len(stages) == 1:
            op = DEGRADATIONS.get(stages[0][0])
            full = (op.level_min, op.level_max)
            if stages[0][1] is not None:
                if levels is not None:
                    raise ConfigError(f"{text!r} fixes its level already; drop the level range {levels!r}")
                levels = stages[0][1]
                stages = ((stages[0][0], None),)
        else:
            full = (0.0, 1.0)
        lo, hi = _as_range(text, levels, full)
        if len(stages) == 1:
            lo, hi = _checked_op_levels(stages[0][0], lo, hi)
        elif lo < 0.0 or hi > 1.0:
            raise ConfigError(
                f"levels [{lo:g}, {hi:g}] for mixture {text!r} must lie in [0, 1] (a severity fraction)"
            )
        return cls(text.strip(), stages, (lo, hi))

    def stage_levels(self, t: Tensor) -> List[Tuple[str, Tensor]]:
        """The ``[(op, levels)]`` list for `apply`, from drawn levels `t` (float64, shape (B,))."""
        if not self.is_mixture:
            return [(self.stages[0][0], t)]
        out = []
        for name, fixed in self.stages:
            if fixed is not None:
                out.append((name, torch.full_like(t, fixed)))
            else:
                op = DEGRADATIONS.get(name)
                out.append((name, op.level_min + t * (op.level_max - op.level_min)))
        return out

    def degrade(self, img: Tensor, levels: Tensor, seeds: Sequence[int]) -> Tensor:
        """Degrade ``B x 3 x H x W`` `img` at per-sample `levels` with one seed per sample."""
        return apply(self.stage_levels(levels.to(torch.float64)), img, seeds=list(seeds))


def _as_range(text: str, levels, full: Tuple[float, float]) -> Tuple[float, float]:
    if levels is None:
        return float(full[0]), float(full[1])
    if isinstance(levels, (int, float)):
        return float(levels), float(levels)
    try:
        lo, hi = (float(v) for v in levels)
    except (TypeError, ValueError):
        raise ConfigError(f"levels for {text!r} must be a number or [low, high], got {levels!r}") from None
    if lo > hi:
        raise ConfigError(f"levels for {text!r}: low {lo:g} is above high {hi:g}")
    return lo, hi


def _checked_op_levels(name: str, lo: float, hi: float) -> Tuple[float, float]:
    op = DEGRADATIONS.get(name)
    eps = 1e-6 * max(1.0, abs(op.level_max))
    if lo < op.level_min - eps or hi > op.level_max + eps:
        raise ConfigError(
            f"levels [{lo:g}, {hi:g}] are out of range for {name}: expected [{op.level_min:g}, {op.level_max:g}]"
        )
    return max(lo, op.level_min), min(hi, op.level_max)


def parse_classes(specs: Sequence) -> List[DegradationClass]:
    if isinstance(specs, (str, dict)) or not len(specs):
        raise ConfigError(f"expected a non-empty list of degradation classes, got {specs!r}")
    return [DegradationClass.parse(s) for s in specs]


# ----------------------------------------------------------------------------- the data set

Source = Union[str, Path, Sequence[Union[str, Path, Tensor, Tuple[str, Tensor]]]]


def _source_entries(source: Source) -> List[Tuple[str, Union[Path, Tensor]]]:
    """(name, path or tensor) for every clean image of `source`."""
    if isinstance(source, (str, Path)):
        return [(str(p), p) for p in list_images(source)]
    entries: List[Tuple[str, Union[Path, Tensor]]] = []
    for k, item in enumerate(source):
        if isinstance(item, Tensor):
            entries.append((f"image {k}", item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Tensor):
            entries.append((str(item[0]), item[1]))
        elif isinstance(item, (str, Path)):
            entries.extend((str(p), p) for p in list_images(item))
        else:
            raise DataError(
                f"expected image paths, tensors or (name, tensor) pairs, got {type(item).__name__}"
            )
    if not entries:
        raise DataError("no clean images given")
    return entries


class SyntheticDataset(Dataset):
    """Random patches of clean images, degraded on the fly by one of `classes`.

    Items are dicts ``{"lq", "gt", "label", "level", "seed"}``: ``3 x P x P`` float32 images in [0, 1],
    the class index, the drawn level (op units, or a severity fraction for mixtures) and the seed
    that replays the degradation: ``classes[label].degrade(gt[None], tensor([level]), [seed])``.
    Item ``i`` uses class ``i % len(classes)``, so any K consecutive items cover every class once.
    `scale_range` ``(lo, hi)`` with ``lo < 1`` shrinks each photograph by a random factor in that
    range before cropping (`draw_scale`); the default ``(1, 1)`` draws nothing, keeping old streams.
    `gamma_range` likewise raises each clean crop to a power drawn log-uniformly in that range
    (`draw_gamma`), drawn after the others so that they do not move; `smooth_band_fraction` of the
    crops then get a smooth band (`smooth_bands`), drawn last, except those of the classes named in
    `smooth_band_skip`.

    With ``degrade_on_device=True`` items carry no ``"lq"``; call `degrade_batch` on the collated
    batch to degrade it on the GPU with the same result as the per-item path on the CPU.

    An unreadable clean image stops the data set naming the file, unless `bad_samples` says
    ``skip``: then it is left out and counted (`bad`). With `cache` every file is read here, so the
    images left are known before training; without, a bad file is met when drawn and its item uses
    the next readable image instead (a choice that depends on the files alone, not on access order).
    """

    def __init__(
        self,
        source: Source,
        classes: Sequence,
        patch_size: int = 128,
        length: Optional[int] = None,
        seed: int = 0,
        flips: bool = True,
        rotations: bool = True,
        pad_small: bool = False,
        degrade_on_device: bool = False,
        cache: bool = True,
        scale_range: Tuple[float, float] = (1.0, 1.0),
        gamma_range: Tuple[float, float] = (1.0, 1.0),
        smooth_band_fraction: float = 0.0,
        smooth_band_skip: Sequence[str] = (),
        bad_samples: Optional[BadSamplePolicy] = None,
    ):
        self.classes = parse_classes(classes)
        self.class_names = [c.name for c in self.classes]
        self.patch_size = int(patch_size)
        if self.patch_size < 1:
            raise ConfigError(f"patch_size must be a positive number of pixels, got {patch_size}")
        self.seed, self.epoch = int(seed), 0
        self.flips, self.rotations = flips, rotations
        self.scale_range = _checked_range("scale_range", scale_range, 1.0)
        self.gamma_range = _checked_range("gamma_range", gamma_range, None)
        if not 0.0 <= float(smooth_band_fraction) <= 1.0:
            raise ConfigError(f"smooth_band_fraction must be in [0, 1], got {smooth_band_fraction}")
        self.smooth_band_fraction = float(smooth_band_fraction)
        unknown = sorted(set(smooth_band_skip) - set(self.class_names))
        if unknown:
            raise ConfigError(f"smooth_band_skip names {unknown}, not classes of {self.class_names}")
        self._band_labels = {i for i, name in enumerate(self.class_names) if name not in smooth_band_skip}
        self.pad_small, self.degrade_on_device, self.cache = pad_small, degrade_on_device, cache
        self.entries = _source_entries(source)
        self.bad = BadSamples(bad_samples, len(self.entries), "clean images")
        self._images: Dict[int, Tensor] = {}
        if cache:
            self._load_all()
        self.length = int(length) if length is not None else len(self.entries) * len(self.classes)

    def _load_all(self) -> None:
        """Read every clean image now; in skip mode the unreadable ones leave `entries`."""
        kept: List[Tuple[str, Union[Path, Tensor]]] = []
        for k in range(len(self.entries)):
            img = self._try_load(k)
            if img is not None:
                self._images[len(kept)] = img
                kept.append(self.entries[k])
        if not kept:
            raise DataError(f"none of the {len(self.entries)} clean images could be read")
        self.entries = kept
        self.bad.log_summary()

    def _try_load(self, k: int) -> Optional[Tensor]:
        """Image `k`, or None when it is unreadable and the policy skips it (read once: a file
        found bad is not decoded again)."""
        name = self.entries[k][0]
        if name in self.bad.reasons:
            return None
        try:
            return self._load(k)
        except Unreadable as exc:
            self.bad.record(name, exc.error)
            return None

    def _load(self, k: int) -> Tensor:
        name, item = self.entries[k]
        if isinstance(item, Path):
            try:
                img = read_image(item)
            except DataError as exc:
                raise Unreadable(exc) from None
        else:
            img = item.detach().to("cpu", torch.float32)
        if img.ndim != 3 or img.shape[0] != 3:
            raise DataError(f"{name}: expected a 3 x H x W image, got shape {tuple(img.shape)}")
        if self.pad_small:
            return pad_to_patch(img, self.patch_size)
        check_patch(img, self.patch_size, name)
        return img

    def image(self, k: int) -> Tensor:
        """Clean image `k` as used for cropping (padded if `pad_small`); when it is unreadable and
        skipped, the next readable one."""
        if k in self._images:
            return self._images[k]
        for step in range(len(self.entries)):
            img = self._try_load((k + step) % len(self.entries))
            if img is not None:
                return img
        raise DataError(f"none of the {len(self.entries)} clean images could be read")

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of items; call before each epoch (DataLoader workers must not be persistent)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(f"item {index} is outside the epoch of {self.length} items")
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, index))
        k = int(torch.randint(len(self.entries), (), generator=g))
        label = index % len(self.classes)
        lo, hi = self.classes[label].level_range
        level = lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))
        img = self.image(k)
        p = window = self.patch_size
        if self.scale_range != (1.0, 1.0):
            window = draw_scale(g, self.scale_range, img.shape[1], img.shape[2], p)
        top, left = draw_crop(g, img.shape[1], img.shape[2], window)
        hflip, vflip, turns = draw_augment(g)
        seed = int(torch.randint(SEED_LIMIT, (), generator=g))
        crop = resize_crop(img[:, top : top + window, left : left + window], p)
        gt = augment(crop, hflip and self.flips, vflip and self.flips, turns if self.rotations else 0)
        if self.gamma_range != (1.0, 1.0):
            gt = gt.clamp(min=0.0) ** draw_gamma(g, self.gamma_range)
        if self.smooth_band_fraction > 0 and label in self._band_labels:
            if float(torch.rand((), generator=g)) < self.smooth_band_fraction:
                gt = add_smooth_band(g, gt)
        item = {"gt": gt.clone(), "label": label, "level": level, "seed": seed}
        if not self.degrade_on_device:
            levels = torch.tensor([level], dtype=torch.float64)
            item["lq"] = self.classes[label].degrade(gt[None], levels, [seed])[0]
        return item


def draw_gamma(g: torch.Generator, gamma_range: Tuple[float, float]) -> float:
    """An exponent drawn log-uniformly in `gamma_range` (one draw): as likely to darken by a power
    ``c`` as to brighten by ``1 / c`` when the range is symmetric, ``(1 / c, c)``."""
    lo, hi = math.log(gamma_range[0]), math.log(gamma_range[1])
    return math.exp(lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64)))


def _checked_range(name: str, value, upper: Optional[float]) -> Tuple[float, float]:
    """``(low, high)`` of `value` as floats, refused unless ``0 < low <= high`` (``<= upper`` if given)."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be (low, high), got {value!r}") from None
    if not (0.0 < lo <= hi and (upper is None or hi <= upper)):
        bound = "" if upper is None else f" <= {upper:g}"
        raise ConfigError(f"{name} must satisfy 0 < low <= high{bound}, got ({lo:g}, {hi:g})")
    return lo, hi


def degrade_batch(batch: dict, class_specs: Sequence, device: Union[str, torch.device] = "cpu") -> dict:
    """Degrade a collated batch of clean crops on `device`, one `apply` call per class present.

    `batch` holds ``"gt"`` (B x 3 x P x P), ``"label"``, ``"level"`` and ``"seed"`` as made by a
    `SyntheticDataset` with ``degrade_on_device=True``; `class_specs` is its ``classes``. Returns a new
    dict with ``"lq"`` added and every tensor on `device`. On the CPU the result equals the per-item
    path; on a GPU the ops draw from CUDA generators, whose streams differ from the CPU's, so the
    noise differs while staying seeded and reproducible on that device.
    """
    classes = parse_classes(class_specs)
    out = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in batch.items()}
    gt = out["gt"]
    labels = torch.as_tensor(batch["label"]).cpu()
    levels = torch.as_tensor(batch["level"], dtype=torch.float64).cpu()
    seeds = torch.as_tensor(batch["seed"]).cpu()
    lq = torch.empty_like(gt)
    for label in labels.unique().tolist():
        if not 0 <= label < len(classes):
            raise DataError(f"label {label} has no class: {len(classes)} classes given")
        idx = (labels == label).nonzero().flatten()
        lq[idx.to(gt.device)] = classes[label].degrade(
            gt[idx.to(gt.device)], levels[idx], seeds[idx].tolist()
        )
    out["lq"] = lq
    return out
