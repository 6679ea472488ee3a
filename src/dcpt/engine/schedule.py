"""Learning-rate schedule as a pure function of the step (nanoGPT's `get_lr`), so resume needs no state."""

from __future__ import annotations

import math


def lr_at(step: int, lr: float, total_steps: int, warmup_steps: int = 0, min_lr: float = 0.0) -> float:
    """Learning rate for optimiser step `step` (0-based): linear warm-up to `lr`, then cosine to `min_lr`.

    Warm-up runs over steps ``0 .. warmup_steps - 1`` reaching ``lr * (step + 1) / warmup_steps``; the
    cosine then falls from `lr` at ``step == warmup_steps`` to `min_lr` at ``step == total_steps``.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max((step - warmup_steps) / decay_steps, 0.0), 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
