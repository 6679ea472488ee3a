"""The demo's test set and its scoring: fixed crops of the held-out photographs, fixed degradations.

Every crop position, level and noise seed flows from one seed, so two runs (and the tests) see the
same bytes. Scores follow the papers' protocol: both images clamped and rounded to 8 bits, RGB, no
border crop; a type's score is the mean over its crops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..errors import DataError


@dataclass
class HeldOutType:
    """The crops of one degradation type: ``lq`` and ``gt`` are ``N x 3 x S x S`` in [0, 1]."""

    name: str
    label: int
    lq: Tensor
    gt: Tensor


def _crop_positions(g: torch.Generator, height: int, width: int, size: int, count: int) -> List[tuple]:
    if height < size or width < size:
        raise DataError(
            f"a held-out image of {height} x {width} pixels is smaller than the {size}-pixel crop"
        )
    tops = torch.randint(height - size + 1, (count,), generator=g).tolist()
    lefts = torch.randint(width - size + 1, (count,), generator=g).tolist()
    return list(zip(tops, lefts))


def class_specs(classes) -> List[Tuple[str, dict]]:
    """``[(name, degradation spec)]`` of a config's class entries (``data.val[0].classes``): the
    input `held_out_set` and `whole_image_set` take."""
    return [
        (c.name, {"name": c.degradation or c.name, **({"levels": list(c.levels)} if c.levels else {})})
        for c in classes
    ]


def _degrade(g: torch.Generator, cls, gt: Tensor) -> Tensor:
    """`gt` degraded by `cls` at levels drawn uniformly from its range, with noise seeds from `g`."""
    lo, hi = cls.level_range
    levels = lo + (hi - lo) * torch.rand(len(gt), generator=g, dtype=torch.float64)
    seeds = torch.randint(2**31 - 1, (len(gt),), generator=g).tolist()
    return cls.degrade(gt, levels, seeds).clamp(0.0, 1.0)


def held_out_set(
    classes: Sequence[Tuple[str, object]],
    crops_per_image: int,
    crop_size: int,
    seed: int,
    split: str = "test",
) -> List[HeldOutType]:
    """One `HeldOutType` per ``(name, spec)`` of `classes` (spec: a `DegradationClass.parse` input), on
    the `split` photographs. Each type degrades the same clean crops, at levels drawn uniformly from
    its range.
    """
    from ..data import load_samples
    from ..data.synthetic import parse_classes

    parsed = parse_classes([spec for _, spec in classes])
    g = torch.Generator().manual_seed(int(seed))
    crops = []
    for _, img in load_samples(split):
        for top, left in _crop_positions(g, img.shape[1], img.shape[2], crop_size, crops_per_image):
            crops.append(img[:, top : top + crop_size, left : left + crop_size])
    gt = torch.stack(crops)
    return [
        HeldOutType(name, label, _degrade(g, cls, gt), gt)
        for label, ((name, _), cls) in enumerate(zip(classes, parsed))
    ]


def whole_image_set(
    classes: Sequence[Tuple[str, object]], per_image: int, seed: int, split: str = "test"
) -> List[HeldOutType]:
    """Whole `split` photographs (as ``dcpt classify IMAGE`` sees them), each degraded `per_image`
    times by every class of `classes`: one single-image `HeldOutType` per degraded photograph,
    since the photographs differ in size."""
    from ..data import load_samples
    from ..data.synthetic import parse_classes

    parsed = parse_classes([spec for _, spec in classes])
    g = torch.Generator().manual_seed(int(seed))
    out = []
    for _, img in load_samples(split):
        for label, ((name, _), cls) in enumerate(zip(classes, parsed)):
            out += [
                HeldOutType(name, label, _degrade(g, cls, img[None]), img[None]) for _ in range(per_image)
            ]
    return out


def quantize(img: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the nearest 8-bit value (as a saved PNG would hold it)."""
    return (img.clamp(0.0, 1.0) * 255.0).round() / 255.0


@torch.no_grad()
def restore_all(net: nn.Module, images: Tensor, batch: int = 8) -> Tensor:
    """`net` applied to ``N x 3 x H x W`` `images` in batches, in eval mode."""
    net.eval()
    return torch.cat([net(images[i : i + batch]) for i in range(0, len(images), batch)])


def score(outputs: Dict[str, Tensor], types: Sequence[HeldOutType]) -> Dict[str, Dict[str, float]]:
    """``{"psnr": {type: dB, ..., "average": dB}, "ssim": {...}}`` of restored crops per type name."""
    from ..metrics import psnr, ssim

    table: Dict[str, Dict[str, float]] = {"psnr": {}, "ssim": {}}
    for t in types:
        out, gt = quantize(outputs[t.name]), quantize(t.gt)
        table["psnr"][t.name] = float(psnr(out, gt).mean())
        table["ssim"][t.name] = float(ssim(out, gt).mean())
    for metric in table.values():
        metric["average"] = sum(metric.values()) / len(metric)
    return table


@torch.no_grad()
def confusion_matrix(
    net: nn.Module,
    classifier: nn.Module,
    class_names: Sequence[str],
    types: Sequence[HeldOutType],
    batch: int = 16,
) -> Tensor:
    """Counts of predictions, ``len(class_names) x len(class_names)``: row = true type, column =
    predicted class, both in `class_names` order (the checkpoint's)."""
    from ..infer.classify import class_probabilities

    net.eval()
    classifier.eval()
    missing = sorted({t.name for t in types if t.name not in class_names})
    if missing:
        raise DataError(f"the classifier knows {list(class_names)}, not {missing}")
    matrix = torch.zeros(len(class_names), len(class_names), dtype=torch.long)
    for t in types:
        row = class_names.index(t.name)
        for i in range(0, len(t.lq), batch):
            pred = class_probabilities(net, classifier, t.lq[i : i + batch]).argmax(dim=1)
            matrix[row] += torch.bincount(pred.cpu(), minlength=len(class_names))
    return matrix


def classifier_accuracy(
    net: nn.Module, classifier: nn.Module, class_names: Sequence[str], types: Sequence[HeldOutType]
) -> float:
    """Fraction of held-out degraded images whose predicted class is their degradation type."""
    matrix = confusion_matrix(net, classifier, class_names, types)
    return float(matrix.trace()) / float(matrix.sum())
