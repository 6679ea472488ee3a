"""Validation: the objective's per-sample metrics, averaged overall and per group (degradation class)."""

from __future__ import annotations

from typing import Dict, Sequence

import torch
from torch.utils.data import DataLoader


@torch.no_grad()
def validate(
    objective,
    modules: Dict,
    dataset,
    batch_size: int,
    device: torch.device,
    group_names: Sequence[str] = (),
    channels_last: bool = False,
) -> Dict[str, float]:
    """Mean of ``objective.evaluate(batch, modules) -> {metric: Tensor[B]}`` over `dataset`.

    When batches carry an integer ``label`` and `group_names` names them, each metric is also
    reported per group as ``"<metric>/<group>"`` (e.g. ``psnr/gaussian_noise``).
    """
    from .loop import to_device

    evaluate = getattr(objective, "evaluate", None)
    if evaluate is None:
        return {}
    for module in modules.values():
        module.eval()
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(0)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, generator=torch.Generator())
    totals: Dict[str, float] = {}
    counts: Dict[str, int] = {}
    for batch in loader:
        batch = to_device(batch, device, channels_last)
        per_sample = evaluate(batch, modules)
        labels = batch.get("label")
        for metric, values in per_sample.items():
            values = values.detach().float().cpu()
            _add(totals, counts, metric, values.sum().item(), values.numel())
            if labels is None or not group_names:
                continue
            labels_cpu = labels.cpu()
            for index in labels_cpu.unique().tolist():
                chosen = values[labels_cpu == index]
                _add(totals, counts, f"{metric}/{group_names[index]}", chosen.sum().item(), chosen.numel())
    return {key: totals[key] / counts[key] for key in totals}


def _add(totals, counts, key, total, n) -> None:
    totals[key] = totals.get(key, 0.0) + total
    counts[key] = counts.get(key, 0) + n
