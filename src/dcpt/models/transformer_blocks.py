"""Building blocks shared by Restormer and PromptIR, each able to run densely or under a MaskDCPT mask.

Three releases spell the same tensors differently, and the *key layout* picks which spelling a net
has, so that each release's checkpoint loads strictly under its own names (no renaming on load):

* ``upstream`` (swz30/Restormer, va1shn9v/PromptIR, the DCPT release's ``promptir_arch.py``):
  stages are ``<stage>.<i>``, norms ``norm1.body.weight``, resizers ``down1_2.body.0.weight``;
* ``dcpt-restormer`` (the DCPT release's ``restormer_arch.py``): stages ``<stage>.body.<i>``;
* ``maskdcpt`` (the MaskDCPT release): stages ``<stage>.blocks.<i>``, norms ``norm1.weight`` (a
  plain LayerNorm), resizers ``down1_2.conv.weight``.

Every block takes an optional `mask` (``B x 1 x h x w`` at the block's resolution, 1 = visible): the
MaskDCPT release's ``mask_*_arch.py`` behaviour, where norms are zero at masked positions and the
outputs of attention's q/k/v, the feed-forward, the resizers' convs and the prompts are multiplied by
the mask, so that nothing at a masked position depends on the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DcptError

LAYERNORM_TYPES = ("WithBias", "BiasFree")
KEY_LAYOUTS = ("upstream", "dcpt-restormer", "maskdcpt")
ATTENTIONS = ("softmax", "relu")


def masked_by(x: Tensor, mask: Optional[Tensor]) -> Tensor:
    return x if mask is None else x * mask


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a B x C x H x W map (Restormer's 'WithBias' / 'BiasFree').

    'BiasFree' divides by the standard deviation without centring and has no bias, as in the paper.
    `eps`: 1e-5 in PromptIR and MaskDCPT, 1e-6 in the DCPT release's Restormer. Under a mask the
    output is zero at masked positions (the release normalises visible positions only; a per-pixel
    norm gives those the same values).
    """

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.eps = eps

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        if self.bias is not None:
            y = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        else:
            y = x * torch.rsqrt(x.var(-1, keepdim=True, unbiased=False) + self.eps) * self.weight
        return masked_by(y.permute(0, 3, 1, 2), mask)


class Wrapped(nn.Module):
    """Holds one module under a release's attribute name (``body``, ``blocks``), so that its keys
    read ``<name>.<...>``; calls go straight through."""

    def __init__(self, name: str, inner: nn.Module):
        super().__init__()
        self.inner_name = name
        self.add_module(name, inner)

    def forward(self, *args):
        return getattr(self, self.inner_name)(*args)


class MDTA(nn.Module):
    """Multi-Dconv-head Transposed Attention: attention across channels, linear in the pixel count.

    Queries and keys are L2-normalised over pixels; a learned per-head ``temperature`` scales them.
    `activation` 'softmax' (the paper) or 'relu' (the DCPT release's Restormer: unnormalised weights).
    """

    def __init__(self, dim: int, num_heads: int, bias: bool, activation: str = "softmax"):
        super().__init__()
        self.num_heads = num_heads
        self.activation = activation
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, c, h, w = x.shape
        qkv = masked_by(self.qkv_dwconv(self.qkv(x)), mask)
        q, k, v = qkv.reshape(b, 3, self.num_heads, c // self.num_heads, h * w).unbind(1)
        scores = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * self.temperature
        attn = scores.softmax(dim=-1) if self.activation == "softmax" else F.relu(scores)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv Feed-forward Network: GELU(one half) x (other half) after a depth-wise 3x3 conv."""

    def __init__(self, dim: int, expansion: float, bias: bool):
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(
            hidden * 2, hidden * 2, kernel_size=3, padding=1, groups=hidden * 2, bias=bias
        )
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return masked_by(self.project_out(F.gelu(gate) * value), mask)


class TransformerBlock(nn.Module):
    """Pre-norm residual block: x + MDTA(LN(x)), then x + GDFN(LN(x))."""

    def __init__(self, dim: int, num_heads: int, config: "BlockConfig"):
        super().__init__()
        self.norm1 = config.norm(dim)
        self.attn = MDTA(dim, num_heads, config.bias, config.attention)
        self.norm2 = config.norm(dim)
        self.ffn = GDFN(dim, config.ffn_expansion_factor, config.bias)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        x = x + self.attn(self.norm1(x, mask), mask)
        return x + self.ffn(self.norm2(x, mask), mask)


class Stage(nn.Sequential):
    """TransformerBlocks in sequence, all under the same mask (keys ``<i>.…``)."""

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        for block in self:
            x = block(x, mask)
        return x


class Resample(nn.Module):
    """A bias-free 3x3 conv, then pixel-(un)shuffle by 2: Restormer's Downsample (to C/2, then
    unshuffle: 2C at half size) and Upsample (to 2C, then shuffle: C/2 at twice the size). Under a
    mask the conv output is masked at the input's resolution, before the shuffle."""

    def __init__(self, channels: int, direction: str, conv_name: str):
        super().__init__()
        down = direction == "down"
        conv = nn.Conv2d(
            channels, channels // 2 if down else channels * 2, kernel_size=3, padding=1, bias=False
        )
        shuffle = nn.PixelUnshuffle(2) if down else nn.PixelShuffle(2)
        self.conv_name = conv_name
        if conv_name == "conv":
            self.conv, self.shuffle = conv, shuffle
        else:
            self.body = nn.Sequential(conv, shuffle)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        conv, shuffle = (self.conv, self.shuffle) if self.conv_name == "conv" else tuple(self.body)
        return shuffle(masked_by(conv(x), mask))


class OverlapPatchEmbed(nn.Module):
    """3x3 conv from image channels to `dim` (an 'overlapping patch embedding' of patch size 1)."""

    def __init__(self, in_channels: int, dim: int, bias: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


@dataclass(frozen=True)
class BlockConfig:
    """What every Transformer block of one net shares; builds its blocks, stages and resizers under
    the net's key layout (see the module docstring)."""

    ffn_expansion_factor: float = 2.66
    bias: bool = False
    layernorm_type: str = "WithBias"
    layernorm_eps: float = 1e-5
    attention: str = "softmax"
    key_layout: str = "upstream"

    def __post_init__(self):
        for name, value, valid in (
            ("layernorm_type", self.layernorm_type, LAYERNORM_TYPES),
            ("key_layout", self.key_layout, KEY_LAYOUTS),
            ("attention", self.attention, ATTENTIONS),
        ):
            if value not in valid:
                raise DcptError(f"{name} must be one of {valid}, got {value!r}")

    def norm(self, dim: int) -> nn.Module:
        norm = ChannelLayerNorm(dim, bias=self.layernorm_type == "WithBias", eps=self.layernorm_eps)
        return norm if self.key_layout == "maskdcpt" else Wrapped("body", norm)

    def block(self, dim: int, num_heads: int) -> TransformerBlock:
        return TransformerBlock(dim, num_heads, self)

    def stage(self, dim: int, num_heads: int, depth: int) -> nn.Module:
        stage = Stage(*[self.block(dim, num_heads) for _ in range(depth)])
        wrapper = {"upstream": None, "dcpt-restormer": "body", "maskdcpt": "blocks"}[self.key_layout]
        return stage if wrapper is None else Wrapped(wrapper, stage)

    def resample(self, channels: int, direction: str) -> Resample:
        return Resample(channels, direction, "conv" if self.key_layout == "maskdcpt" else "body")


def check_image(x: Tensor, in_channels: int) -> None:
    """Raise DcptError unless `x` is a B x `in_channels` x H x W tensor."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise DcptError(f"expected a B x {in_channels} x H x W tensor, got shape {tuple(x.shape)}")


class AdaptsReleaseCheckpoints:
    """Lets state dicts of other releases of the same network (other key names, stored constants)
    load strictly: `adapt_state_dict` returns a copy in this module's naming, and a load pre-hook
    applies the same mapping inside `load_state_dict`. Subclasses implement `_adapt_keys`."""

    def _adapt_keys(self, state_dict: Dict[str, Tensor], prefix: str) -> None:
        raise NotImplementedError

    def adapt_state_dict(self, state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """A copy of `state_dict` with release-specific keys mapped to this module's names."""
        adapted = dict(state_dict)
        self._adapt_keys(adapted, "")
        return adapted


def adapt_on_load(module: AdaptsReleaseCheckpoints, state_dict, prefix, *_) -> None:
    """Load-state-dict pre-hook calling the module's `_adapt_keys` on the keys under `prefix`."""
    module._adapt_keys(state_dict, prefix)
