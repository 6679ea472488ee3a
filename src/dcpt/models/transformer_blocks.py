"""Building blocks shared by Restormer and PromptIR, plus the padding and masking glue of the contract.

Module and parameter names follow swz30/Restormer (`restormer_arch.py`), so released checkpoints
load strictly: a block is ``norm1.body.{weight,bias}``, ``attn.{temperature,qkv,qkv_dwconv,
project_out}``, ``norm2``, ``ffn.{project_in,dwconv,project_out}``; resizers are ``body.0``.
The MaskDCPT release renames the same tensors (``norm1.weight``, ``encoder_level1.blocks.0``,
``down1_2.conv``); `rename_maskdcpt_keys` maps those names back so both load into one class.
"""

from __future__ import annotations

import re
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DcptError
from .layers import pad_to_multiple
from .classifier import check_taps
from .masking import apply_mask, check_mask

LAYERNORM_TYPES = ("WithBias", "BiasFree")


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a B x C x H x W map (Restormer's 'WithBias' / 'BiasFree', eps 1e-5).

    'BiasFree' divides by the standard deviation without centring and has no bias, as in the paper.
    """

    def __init__(self, dim: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        if self.bias is not None:
            y = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, 1e-5)
        else:
            y = x * torch.rsqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5) * self.weight
        return y.permute(0, 3, 1, 2)


class LayerNorm(nn.Module):
    """Holds the norm under ``body`` so that parameter names read ``norm1.body.weight`` as upstream."""

    def __init__(self, dim: int, layernorm_type: str = "WithBias"):
        super().__init__()
        if layernorm_type not in LAYERNORM_TYPES:
            raise DcptError(f"layernorm_type must be one of {LAYERNORM_TYPES}, got {layernorm_type!r}")
        self.body = ChannelLayerNorm(dim, bias=layernorm_type == "WithBias")

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class MDTA(nn.Module):
    """Multi-Dconv-head Transposed Attention: attention across channels, linear in the pixel count.

    Queries and keys are L2-normalised over pixels; a learned per-head ``temperature`` scales them.
    """

    def __init__(self, dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).reshape(b, 3, self.num_heads, c // self.num_heads, h * w).unbind(1)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv Feed-forward Network: GELU(one half) x (other half) after a depth-wise 3x3 conv."""

    def __init__(self, dim: int, expansion: float, bias: bool):
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, kernel_size=3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class TransformerBlock(nn.Module):
    """Pre-norm residual block: x + MDTA(LN(x)), then x + GDFN(LN(x))."""

    def __init__(self, dim: int, num_heads: int, ffn_expansion_factor: float, bias: bool, layernorm_type: str):
        super().__init__()
        self.norm1 = LayerNorm(dim, layernorm_type)
        self.attn = MDTA(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, layernorm_type)
        self.ffn = GDFN(dim, ffn_expansion_factor, bias)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def transformer_stage(dim: int, num_heads: int, depth: int, ffn_expansion_factor: float, bias: bool,
                      layernorm_type: str) -> nn.Sequential:
    """`depth` TransformerBlocks in a Sequential (keys ``<stage>.<i>.…`` as upstream)."""
    return nn.Sequential(*[TransformerBlock(dim, num_heads, ffn_expansion_factor, bias, layernorm_type)
                           for _ in range(depth)])


class OverlapPatchEmbed(nn.Module):
    """3x3 conv from image channels to `dim` (an 'overlapping patch embedding' of patch size 1)."""

    def __init__(self, in_channels: int, dim: int, bias: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """Halve the resolution, double the channels: 3x3 conv to C/2, then pixel-unshuffle by 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, kernel_size=3, padding=1, bias=False),
                                  nn.PixelUnshuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double the resolution, halve the channels: 3x3 conv to 2C, then pixel-shuffle by 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, kernel_size=3, padding=1, bias=False),
                                  nn.PixelShuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


_MASKDCPT_RENAMES = (
    (re.compile(r"\.blocks\.(\d+)\."), r".\1."),
    (re.compile(r"(norm\d?)\.(weight|bias)$"), r"\1.body.\2"),
    (re.compile(r"^((?:down|up)\d_\d)\.conv\."), r"\1.body.0."),
)


def rename_maskdcpt_keys(state_dict: Dict[str, Tensor], prefix: str = "") -> None:
    """Rename, in place, MaskDCPT-release keys (under `prefix`) to the upstream Restormer names.

    MaskDCPT keeps every tensor of Restormer / PromptIR but wraps stages as ``<stage>.blocks.<i>``,
    uses ``nn.LayerNorm`` (``norm1.weight``) and names resizer convs ``conv``; upstream keys pass
    through unchanged, so this is safe to run on any state dict.
    """
    for key in [k for k in state_dict if k.startswith(prefix)]:
        new = key[len(prefix):]
        for pattern, replacement in _MASKDCPT_RENAMES:
            new = pattern.sub(replacement, new)
        if prefix + new != key:
            state_dict[prefix + new] = state_dict.pop(key)


def crop_levels(features: Sequence[Tensor], height: int, width: int) -> List[Tensor]:
    """Crop padded feature maps, level i at stride 2**i, back to the input's extent (ceil of H / stride)."""
    return [feat[..., : -(-height // 2 ** i), : -(-width // 2 ** i)] for i, feat in enumerate(features)]


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


class PyramidTransformerNet(AdaptsReleaseCheckpoints, nn.Module):
    """The restoration-net contract for the Restormer-style U-Nets (Restormer, PromptIR).

    A subclass builds ``patch_embed``, sets ``in_channels``, ``feature_channels`` and (optionally)
    a ``mask_token`` parameter, and implements `_trunk` (embedded input -> decoder level outputs,
    full resolution first) and `_reconstruct` (full-resolution decoder output + image -> output).
    Inputs are reflect-padded to a multiple of `pad_multiple` (three 2x downsamplings) and cropped back.
    """

    pad_multiple = 8
    mask_patch_size = 8
    in_channels: int
    feature_channels: tuple
    feature_taps = ("decoder",)  # the classifier taps it can give (see dcpt.models.classifier)

    def _trunk(self, embedded: Tensor) -> List[Tensor]:
        raise NotImplementedError

    def _adapt_keys(self, state_dict: Dict[str, Tensor], prefix: str) -> None:
        rename_maskdcpt_keys(state_dict, prefix)

    def _reconstruct(self, full_res: Tensor, image: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.pad_multiple)
        features = self._trunk(self.patch_embed(padded))
        return self._reconstruct(features[0], padded)[..., :h, :w]

    def features(self, x: Tensor, taps: str = "decoder") -> List[Tensor]:
        """Decoder level outputs after skip fusion: strides 1, 2, 4, widths `feature_channels`."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        return crop_levels(self._trunk(self.patch_embed(pad_to_multiple(x, self.pad_multiple))), h, w)

    def forward_masked(self, x: Tensor, mask: Tensor, taps: str = "decoder") -> tuple:
        """SimMIM-style masked pass: masked pixels are zeroed, then their embeddings are replaced by
        zeros (or the learned ``mask_token``), so the outputs do not depend on masked content.
        Returns (restored image, features) like `forward` and `features`."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        mask = pad_to_multiple(check_mask(mask, x), self.pad_multiple)
        visible = pad_to_multiple(x, self.pad_multiple) * mask
        embedded = apply_mask(self.patch_embed(visible), mask, getattr(self, "mask_token", None))
        features = self._trunk(embedded)
        restored = self._reconstruct(features[0], visible)[..., :h, :w]
        return restored, crop_levels(features, h, w)


def infer_pyramid_config(state: Dict[str, Tensor]) -> Dict:
    """Restormer / PromptIR constructor arguments common to both, from parameter names and shapes."""
    state = dict(state)
    rename_maskdcpt_keys(state)
    if "patch_embed.proj.weight" not in state:
        raise DcptError("not a Restormer-style state dict: it has no patch_embed.proj.weight")
    dim, in_channels = state["patch_embed.proj.weight"].shape[:2]
    hidden = state["encoder_level1.0.ffn.project_out.weight"].shape[1]

    def depth(stage: str) -> int:
        return len({k.split(".")[1] for k in state if k.startswith(stage + ".")})

    stages = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
    return dict(
        inp_channels=int(in_channels), out_channels=int(state["output.weight"].shape[0]), dim=int(dim),
        num_blocks=tuple(depth(s) for s in stages), num_refinement_blocks=depth("refinement"),
        heads=tuple(int(state[f"{s}.0.attn.temperature"].shape[0]) for s in stages),
        ffn_expansion_factor=2.66 if int(dim * 2.66) == hidden else hidden / dim,
        bias="encoder_level1.0.attn.qkv.bias" in state,
        layernorm_type="WithBias" if "encoder_level1.0.norm1.body.bias" in state else "BiasFree",
    )
