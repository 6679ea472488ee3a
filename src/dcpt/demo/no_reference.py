"""The demo's no-reference row: PIQE and NIQE of whole held-out photographs, degraded and restored.

The MaskDCPT paper judges restorations of real photographs, where no clean image exists, by how much a
no-reference score falls (PIQE by 34.8%). The demo does the same on photographs that no net saw in
training (the test split), each degraded once by every type and restored whole by the first shipped
seed of each initialisation; lower is better for both scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional


def no_reference_table(classes, first_nets: Dict[str, Path], seed: int) -> Dict[str, Dict[str, float]]:
    """``{row: {"piqe": mean, "niqe": mean}}`` for ``input`` and each arm in `first_nets` ({arm: file}),
    over the whole test photographs degraded by each of `classes` (``[(name, spec)]``)."""
    import torch

    from ..infer.no_reference import METRICS, quality
    from ..models.checkpoint import load_checkpoint
    from .heldout import quantize, whole_image_set

    items = whole_image_set(classes, per_image=1, seed=seed)
    outputs: Dict[str, List] = {"input": [quantize(t.lq) for t in items]}
    with torch.no_grad():
        for arm, path in first_nets.items():
            net = load_checkpoint(path).eval()
            outputs[arm] = [quantize(net(t.lq)) for t in items]
    table = {}
    for row, images in outputs.items():
        scores = [quality(img[0]) for img in images]
        table[row] = {m: _mean([s[m] for s in scores]) for m in METRICS}
    return table


def _mean(values: List[Optional[float]]) -> float:
    """The mean of the scores that exist (NIQE has none for images under two 96-pixel blocks)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else float("nan")
