"""Exponential moving average of a network's weights (BasicSR's `net_g_ema`, saved as `params_ema`)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """Keeps ``ema = decay * ema + (1 - decay) * param`` after every optimiser step; buffers are copied.

    The averaged copy lives on the same device as the net and never receives gradients.
    """

    def __init__(self, net: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in net.parameters()]
        floating = [(e, p) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floating:
            ema_f, src_f = zip(*floating)
            torch._foreach_mul_(ema_f, self.decay)
            torch._foreach_add_(ema_f, src_f, alpha=1.0 - self.decay)
        for e, b in zip(self.module.buffers(), net.buffers()):
            e.copy_(b)

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state) -> None:
        self.module.load_state_dict(state)
