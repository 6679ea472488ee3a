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
        raise DataError(f"a held-out image of {height} x {width} pixels is smaller than the {size}-pixel crop")
    tops = torch.randint(height - size + 1, (count,), generator=g).tolist()
    lefts = torch.randint(width - size + 1, (count,), generator=g).tolist()
    return list(zip(tops, lefts))


def held_out_set(classes: Sequence[Tuple[str, object]], crops_per_image: int, crop_size: int, seed: int,
                 split: str = "test") -> List[HeldOutType]:
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
            crops.append(img[:, top:top + crop_size, left:left + crop_size])
    gt = torch.stack(crops)
    out = []
    for label, ((name, _), cls) in enumerate(zip(classes, parsed)):
        lo, hi = cls.level_range
        levels = lo + (hi - lo) * torch.rand(len(gt), generator=g, dtype=torch.float64)
        seeds = torch.randint(2**31 - 1, (len(gt),), generator=g).tolist()
        out.append(HeldOutType(name, label, cls.degrade(gt, levels, seeds).clamp(0.0, 1.0), gt))
    return out


def quantize(img: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the nearest 8-bit value (as a saved PNG would hold it)."""
    return (img.clamp(0.0, 1.0) * 255.0).round() / 255.0


@torch.no_grad()
def restore_all(net: nn.Module, images: Tensor, batch: int = 8) -> Tensor:
    """`net` applied to ``N x 3 x H x W`` `images` in batches, in eval mode."""
    net.eval()
    return torch.cat([net(images[i:i + batch]) for i in range(0, len(images), batch)])


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
def classifier_accuracy(net: nn.Module, classifier: nn.Module, class_names: Sequence[str],
                        types: Sequence[HeldOutType]) -> float:
    """Fraction of held-out degraded crops whose predicted class is their degradation type."""
    from ..infer.classify import class_probabilities

    net.eval()
    classifier.eval()
    missing = [t.name for t in types if t.name not in class_names]
    if missing:
        raise DataError(f"the classifier knows {list(class_names)}, not {missing}")
    right = total = 0
    for t in types:
        pred = class_probabilities(net, classifier, t.lq).argmax(dim=1)
        right += int((pred == class_names.index(t.name)).sum())
        total += len(pred)
    return right / total
