"""Building blocks shared by several architectures (and the classifier)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel of a `B x C x H x W` map.

    Statistics are per pixel (mean and biased variance over C), so a pixel's output never depends on
    other pixels: masked positions cannot leak into visible ones through this norm. Parameters
    `weight` and `bias` have shape `(C,)`, the layout of NAFNet's and DCPT's releases.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm_2d(x, self.weight, self.bias, self.eps)


def layer_norm_2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-pixel LayerNorm over the channels of `x` (B x C x H x W), in whichever layout `x` has.

    Why two paths: on a channels-last tensor the channels of a pixel are adjacent in memory, so the
    permuted view is contiguous and `F.layer_norm` normalises it in one fused pass (about 4x fewer
    passes over the map than the written-out formula, which is what the releases run). On a
    contiguous NCHW tensor that view would be strided, and the written-out formula, whose reductions
    run along C with unit-stride pixels, is the faster one. Both give the same result to fp32
    round-off (tests/models/test_fused_norms.py); the output keeps the input's memory format.
    """
    if x.ndim == 4 and x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last):
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], weight, bias, eps)
        return y.permute(0, 3, 1, 2)
    return layer_norm_2d_reference(x, weight, bias, eps)


def layer_norm_2d_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    """The written-out formula of the NAFNet and DCPT releases: mean and biased variance over C."""
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    x = (x - mean) * torch.rsqrt(var + eps)
    return x * weight[:, None, None] + bias[:, None, None]


GEMM_MIN_CHANNELS = 64
"""`PointwiseConv2d` runs as a GEMM from this many input and output channels. Alone, a 16-32 channel
1 x 1 convolution at 32-64 pixels a side was 1.1-1.2x slower as a GEMM; in the whole NAFNet forward
and backward (2 threads, interleaved) this threshold gave 0.90x the convolutions' time for
nafnet-tiny at 4 x 128 px (0.93x with no threshold) and 0.89x for nafnet-w16-28 at 8 x 64 px."""


class PointwiseConv2d(nn.Conv2d):
    """A 1 x 1 convolution (`nn.Conv2d`'s parameters and state-dict keys) that runs as a matrix product
    on channels-last CPU tensors.

    Why: on a channels-last map a pixel's channels are adjacent, so the permuted view is a contiguous
    ``(B H W) x C`` matrix and `F.linear` is one GEMM, forward and backward. On this CPU oneDNN's 1 x 1
    convolution costs 1.2-1.7x as much at NAFNet's deep stages (128 channels at 8 x 8 and 64 at
    16 x 16), and the whole NAFNet forward and backward of the step benchmark takes 10% less. Narrow
    layers (`GEMM_MIN_CHANNELS`), other layouts and devices keep the convolution. Both paths agree to
    fp32 round-off (tests/models/test_pointwise_conv.py).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            min(self.in_channels, self.out_channels) >= GEMM_MIN_CHANNELS
            and x.device.type == "cpu"
            and x.ndim == 4
            and x.is_contiguous(memory_format=torch.channels_last)
        ):
            y = F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1), self.bias)
            return y.permute(0, 3, 1, 2)
        return super().forward(x)


class SimpleGate(nn.Module):
    """NAFNet's activation: split the channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class LocalAvgPool2d(nn.Module):
    """Average over a `kernel` window around each pixel (stride 1), edges replicated back to size.

    TLC (Chu et al. 2022, "Revisiting global statistics aggregation"): a net trained with global
    pooling on 256 x 256 crops sees different statistics on a full-size test image; pooling over a
    window of the training extent at test time removes that gap. Falls back to the global mean when
    the window covers the whole map.
    """

    def __init__(self, kernel: tuple):
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        kh, kw = min(self.kernel[0], h), min(self.kernel[1], w)
        if kh >= h and kw >= w:
            return x.mean((2, 3), keepdim=True)
        out = F.avg_pool2d(x, (kh, kw), stride=1)
        dh, dw = h - out.shape[-2], w - out.shape[-1]
        return F.pad(out, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="replicate")


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> torch.Tensor:
    """Pad the bottom and right of `x` so that H and W are multiples of `multiple`.

    Reflect padding (the official test protocol of DCPT) needs the pad to be smaller than the
    image; tiny images fall back to replicate padding.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
