"""A labelled set of degraded crops, and one pooled feature vector per crop and feature level.

Pooling is a global average over the spatial axes of each level of `net.features(x)` (as in the
DCPT paper's kNN analysis), giving ``N x C_l`` arrays whose widths equal `net.feature_channels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import DataError
from ..models.classifier import net_features


@dataclass
class LabelledCrops:
    """``N x 3 x P x P`` degraded crops in [0, 1], their class indices ``(N,)`` and the class names."""

    images: Tensor
    labels: np.ndarray
    class_names: List[str]


def synthetic_crops(source, types: Sequence[str], per_type: int, patch: int, seed: int) -> LabelledCrops:
    """`per_type` random crops of the clean images in `source` degraded by each of `types`, at levels
    drawn uniformly over each op's range; the same `seed` gives the same bytes."""
    from ..data.synthetic import SyntheticDataset

    data = SyntheticDataset(
        source,
        list(types),
        patch_size=patch,
        length=len(types) * per_type,
        seed=seed,
        flips=False,
        rotations=False,
    )
    items = [data[i] for i in range(len(data))]
    return LabelledCrops(
        torch.stack([it["lq"] for it in items]),
        np.array([it["label"] for it in items]),
        list(data.class_names),
    )


def paired_crops(folders: Sequence[tuple], per_type: int, patch: int, seed: int) -> LabelledCrops:
    """Crops of the degraded images of paired benchmark folders ``[(name, root)]``, one class per
    folder, at most `per_type` each (one seeded random crop per image, in file order)."""
    from ..data.paired import PairedFolderDataset

    images, labels = [], []
    for label, (name, root) in enumerate(folders):
        data = PairedFolderDataset(root, label=label, patch_size=patch, seed=seed)
        if len(data) == 0:
            raise DataError(f"{root}: no image pairs for class {name!r}")
        for i in range(min(per_type, len(data))):
            images.append(data[i]["lq"])
            labels.append(label)
    return LabelledCrops(torch.stack(images), np.array(labels), [name for name, _ in folders])


@torch.no_grad()
def collect_features(
    net: nn.Module, images: Tensor, batch_size: int = 16, device="cpu", taps: str = "decoder"
) -> List[np.ndarray]:
    """Globally average-pooled `net.features` (at `taps`) of ``N x 3 x H x W`` `images`: one
    ``N x C_l`` float64 array per level, shallowest first."""
    net = net.to(device).eval()
    pooled: List[List[Tensor]] = []
    for start in range(0, images.shape[0], batch_size):
        levels = net_features(net, images[start : start + batch_size].to(device), taps)
        if not pooled:
            pooled = [[] for _ in levels]
        for store, feat in zip(pooled, levels):
            store.append(feat.float().mean(dim=(-2, -1)).cpu())
    return [torch.cat(store).double().numpy() for store in pooled]


def concat_levels(levels: Sequence[np.ndarray]) -> np.ndarray:
    """All levels side by side: ``N x sum(C_l)``."""
    return np.concatenate(list(levels), axis=1)


def level_names(count: int) -> List[str]:
    """``["1", ..., str(count), "all"]``: feature levels from the shallowest, then their concatenation."""
    return [str(i + 1) for i in range(count)] + ["all"]
