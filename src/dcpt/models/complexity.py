"""Model size and cost: parameters and multiply-accumulates (MACs) for one image.

MACs come from `torch.utils.flop_counter.FlopCounterMode`, which counts the matrix products and
convolutions (MAC = FLOP / 2) and ignores element-wise work (norms, activations, gating), the same
convention as the ptflops figures the restoration papers quote. The count runs on the `meta` device
when the model allows it, so no arithmetic is done and a 60-GMAC network costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int
    size: int

    def __str__(self) -> str:
        return (
            f"{self.params / 1e6:.3f} M parameters, {self.macs / 1e9:.2f} GMACs at {self.size} x {self.size}"
        )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int = 256, channels: int = 3) -> int:
    """MACs of `model` on one `channels x size x size` image (no gradients)."""
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    x = torch.zeros(1, channels, size, size, device=device)
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def model_complexity(name: str, size: int = 256, **overrides) -> Complexity:
    """Parameters and MACs of preset (or family) `name`, built on the meta device when possible."""
    from .registry import create_model

    try:
        with torch.device("meta"):
            model = create_model(name, **overrides)
        macs = count_macs(model, size)
    except (NotImplementedError, RuntimeError):  # an op without a meta kernel: count for real
        model = create_model(name, **overrides)
        macs = count_macs(model, size)
    return Complexity(params=count_parameters(model), macs=macs, size=size)
