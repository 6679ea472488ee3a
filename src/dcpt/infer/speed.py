"""How a restoration net is run at inference: memory format, precision and compilation switches.

Why a wrapper: the switches change how tensors flow through the net, not what it computes, so they
live in one place that `dcpt restore` and the benchmarks share, instead of in every architecture.

* ``channels_last`` (default on, fp32-exact): weights and inputs in NHWC layout. oneDNN's
  convolutions prefer it, and dcpt's `LayerNorm2d` then normalises each pixel's channels in one fused
  `F.layer_norm` pass (`dcpt.models.layers.layer_norm_2d`). The output is returned contiguous.
* ``bf16`` (opt-in): autocast to bfloat16 (fast on CPUs with AMX / AVX512-BF16 and on GPUs); it
  changes the result by rounding, measured in PSNR by ``benchmarks/inference_vs_release.py``.
* ``compile`` (opt-in): `torch.compile` of the net; the first tile of each shape pays the
  compilation (minutes for a deep net on a small CPU), so it pays only on many or large images.

`torch.inference_mode` is always on inside `dcpt.infer.tiling.restore_tiled`, and tile batching is
`restore_tiled`'s `batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

GRID_ATTRIBUTES = ("padder_size", "mask_patch_size", "window_size", "preset_name", "arch_name")
"""Attributes the tiling and CLI read from a net, repeated on the wrapper."""


@dataclass(frozen=True)
class InferenceOptions:
    """The switches of `dcpt restore` (see the module docstring for which are exact)."""

    channels_last: bool = True
    bf16: bool = False
    compile: bool = False

    def describe(self) -> str:
        parts = ["channels-last" if self.channels_last else "contiguous"]
        parts += ["bf16"] if self.bf16 else ["fp32"]
        return "+".join(parts + (["compile"] if self.compile else []))


class FastRestorer(nn.Module):
    """`net` run under `options`: B x 3 x h x w in (any layout, fp32) -> B x 3 x h x w fp32, contiguous."""

    def __init__(self, net: nn.Module, options: InferenceOptions):
        super().__init__()
        if options.channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.net = net
        self.options = options
        self._run: Any = torch.compile(net) if options.compile else net
        for name in GRID_ATTRIBUTES:
            if hasattr(net, name):
                setattr(self, name, getattr(net, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.options.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.options.bf16:
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                out = self._run(x)
        else:
            out = self._run(x)
        return out.float().contiguous()


def prepare(net: nn.Module, options: InferenceOptions = InferenceOptions()) -> nn.Module:
    """`net` wrapped to run under `options`; it keeps the net's device and eval mode."""
    return FastRestorer(net, options).eval()
