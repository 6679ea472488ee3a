"""SwinIR (Liang et al., ICCVW 2021), restoration variant: upscale 1, residual output, no upsampler.

Shallow 3x3 conv -> residual Swin Transformer groups (RSTB: windowed self-attention blocks, the odd
ones on windows shifted by half a window, then a conv and a skip) -> norm, conv, long skip ->
3x3 conv predicting the residual added to the (mean-shifted) input.

Names, shapes and defaults follow JingyunLiang/SwinIR `network_swinir.py` (``upsampler=''``), so
its denoising / JPEG checkpoints load strictly. Two departures keep any H x W working and loading
tolerant: shifted-window masks are computed for the actual size instead of being stored
(``attn_mask`` entries of upstream checkpoints are skipped on load), and the MaskDCPT release,
which drops relative position bias and shifted-window masks and names the groups
``encode_layers.i`` / ``decode_layers{i}``, loads with ``relative_position_bias=False,
shift_mask=False`` (preset ``swinir-maskdcpt-5d``). `SwinIR.adapt_state_dict` returns such a
checkpoint in our naming, for loaders that compare keys before `load_state_dict`.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DcptError
from .layers import pad_to_multiple
from .classifier import check_taps
from .masking import apply_mask, check_mask
from .import_basicsr import register_config_inferer
from .registry import register_arch, register_model
from .transformer_blocks import AdaptsReleaseCheckpoints, adapt_on_load, check_image

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean that upstream subtracts from RGB inputs


def window_partition(x: Tensor, window_size: int) -> Tensor:
    """B x H x W x C -> B x nW x (ws*ws) x C, windows in row-major order (as upstream)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, -1, window_size * window_size, c)


def window_merge(windows: Tensor, window_size: int, height: int, width: int) -> Tensor:
    """Inverse of `window_partition`: B x nW x (ws*ws) x C -> B x H x W x C."""
    b, _, _, c = windows.shape
    x = windows.view(b, height // window_size, width // window_size, window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, height, width, c)


def relative_position_index(window_size: int) -> Tensor:
    """(ws*ws) x (ws*ws) index into the (2ws-1)^2 bias table for each query/key pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
    return rel[..., 0] * (2 * window_size - 1) + rel[..., 1]


def shifted_window_mask(height: int, width: int, window_size: int, shift: int,
                        device: Optional[torch.device] = None) -> Tensor:
    """nW x N x N additive mask (0 or -100, as upstream) for windows of an image rolled by -`shift`.

    After the cyclic roll, a window at the bottom/right border holds pixels from up to four
    regions that are not neighbours in the image; attention between different regions is blocked.
    """
    region = torch.zeros(1, height, width, 1, device=device)
    bounds = (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None))
    label = 0
    for rows in bounds:
        for cols in bounds:
            region[:, rows, cols, :] = label
            label += 1
    ids = window_partition(region, window_size)[0, ..., 0]
    return (ids[:, None, :] != ids[:, :, None]).float() * -100.0


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative position bias."""

    def __init__(self, dim: int, window_size: int, num_heads: int, relative_position_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise DcptError(f"SwinIR width {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.window_size = window_size
        if relative_position_bias:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
            self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> Optional[Tensor]:
        """heads x N x N bias, or None without relative position bias."""
        if not hasattr(self, "relative_position_bias_table"):
            return None
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1)

    def forward(self, windows: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """`windows`: B x nW x N x C; `mask`: nW x N x N additive or None."""
        b, nw, n, c = windows.shape
        q, k, v = self.qkv(windows).view(b, nw, n, 3, self.num_heads, c // self.num_heads).permute(3, 0, 1, 4, 2, 5)
        bias = self.position_bias()
        if mask is not None:
            bias = mask[:, None] if bias is None else bias + mask[:, None]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))
        return self.proj(out.transpose(2, 3).reshape(b, nw, n, c))


class Mlp(nn.Module):
    """Two-layer perceptron with GELU applied to each token (hidden width = mlp_ratio x dim)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def drop_path(x: Tensor, rate: float, training: bool) -> Tensor:
    """Stochastic depth: zero a residual branch for a random subset of samples, rescale the rest."""
    if rate == 0.0 or not training:
        return x
    keep = torch.rand(x.shape[0], *(1,) * (x.ndim - 1), device=x.device) >= rate
    return x * keep.to(x.dtype) / (1 - rate)


class SwinTransformerBlock(nn.Module):
    """x + W-MSA(LN(x)) on (optionally shifted) windows, then x + MLP(LN(x)); x is B x H x W x C."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float,
                 drop_path_rate: float = 0.0, relative_position_bias: bool = True):
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.drop_path_rate = drop_path_rate
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, relative_position_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, shift_mask: Optional[Tensor] = None) -> Tensor:
        _, h, w, _ = x.shape
        y = self.norm1(x)
        if self.shift_size:
            y = torch.roll(y, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        y = self.attn(window_partition(y, self.window_size), shift_mask if self.shift_size else None)
        y = window_merge(y, self.window_size, h, w)
        if self.shift_size:
            y = torch.roll(y, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        x = x + drop_path(y, self.drop_path_rate, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path_rate, self.training)


class ResidualGroup(nn.Module):
    """The blocks of one RSTB, alternating plain and shifted windows (upstream's BasicLayer)."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 drop_path_rates: Sequence[float], relative_position_bias: bool):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio,
                                 drop_path_rates[i], relative_position_bias)
            for i in range(depth)])

    def forward(self, x: Tensor, shift_mask: Optional[Tensor]) -> Tensor:
        for block in self.blocks:
            x = block(x, shift_mask)
        return x


def residual_conv(dim: int, kind: str) -> nn.Module:
    """The conv closing a residual group: '1conv' (3x3) or '3conv' (3x3 to dim/4, 1x1, 3x3 back)."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    if kind == "3conv":
        return nn.Sequential(nn.Conv2d(dim, dim // 4, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
                             nn.Conv2d(dim // 4, dim // 4, 1, 1, 0), nn.LeakyReLU(0.2, inplace=True),
                             nn.Conv2d(dim // 4, dim, 3, 1, 1))
    raise DcptError(f"resi_connection must be '1conv' or '3conv', got {kind!r}")


class RSTB(nn.Module):
    """Residual Swin Transformer Block: x + conv(Swin blocks(x)) on B x H x W x C tokens."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 drop_path_rates: Sequence[float], relative_position_bias: bool, resi_connection: str):
        super().__init__()
        self.residual_group = ResidualGroup(dim, depth, num_heads, window_size, mlp_ratio, drop_path_rates,
                                            relative_position_bias)
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: Tensor, shift_mask: Optional[Tensor]) -> Tensor:
        y = self.residual_group(x, shift_mask).permute(0, 3, 1, 2)
        return x + self.conv(y).permute(0, 2, 3, 1)


class PatchNorm(nn.Module):
    """LayerNorm on the embedded tokens (upstream's PatchEmbed with patch size 1: ``patch_embed.norm``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


class SwinIR(AdaptsReleaseCheckpoints, nn.Module):
    """SwinIR for same-size restoration (denoising, deblocking, all-in-one restoration).

    `img_range` scales the mean-shifted input (1 for [0, 1] images); `drop_path_rate` is the final
    stochastic-depth rate (linear from 0 over all blocks); `mask_token` adds a learned token
    (``mask_token``, embed_dim values) for `forward_masked`, off by default so that the parameter
    set equals upstream's; `relative_position_bias` / `shift_mask` off reproduce the MaskDCPT release.
    """

    feature_taps = ("decoder",)  # the classifier taps it can give (see dcpt.models.classifier)

    def __init__(self, in_chans: int = 3, embed_dim: int = 180, depths: Sequence[int] = (6, 6, 6, 6, 6, 6),
                 num_heads: Sequence[int] = (6, 6, 6, 6, 6, 6), window_size: int = 8, mlp_ratio: float = 2.0,
                 img_range: float = 1.0, resi_connection: str = "1conv", drop_path_rate: float = 0.0,
                 relative_position_bias: bool = True, shift_mask: bool = True, mask_token: bool = False):
        super().__init__()
        if len(depths) != len(num_heads) or not depths:
            raise DcptError(f"depths and num_heads need one entry per group, got {depths} and {num_heads}")
        if window_size < 2:
            raise DcptError(f"window_size must be at least 2, got {window_size}")
        self.in_channels = in_chans
        self.window_size = window_size
        self.mask_patch_size = window_size
        self.img_range = img_range
        self.use_shift_mask = shift_mask
        self.feature_channels = (embed_dim,) * len(depths)
        self.mean = RGB_MEAN if in_chans == 3 else (0.0,) * in_chans

        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchNorm(embed_dim)
        total = sum(depths)
        rates = [drop_path_rate * i / max(1, total - 1) for i in range(total)]
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.layers = nn.ModuleList([
            RSTB(embed_dim, depth, heads, window_size, mlp_ratio, rates[start:start + depth],
                 relative_position_bias, resi_connection)
            for depth, heads, start in zip(depths, num_heads, starts)])
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(_init_weights)
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(embed_dim))
        self.register_load_state_dict_pre_hook(adapt_on_load)

    def _body(self, shallow: Tensor) -> Tuple[Tensor, List[Tensor]]:
        """Shallow features (B x C x H x W) -> (normed deep features, each RSTB's output), all B x C x H x W."""
        _, _, h, w = shallow.shape
        shift_mask = None
        if self.use_shift_mask and any(len(layer.residual_group.blocks) > 1 for layer in self.layers):
            shift_mask = shifted_window_mask(h, w, self.window_size, self.window_size // 2, shallow.device)
            shift_mask = shift_mask.to(shallow.dtype)
        tokens = self.patch_embed(shallow.permute(0, 2, 3, 1))
        groups = []
        for layer in self.layers:
            tokens = layer(tokens, shift_mask)
            groups.append(tokens.permute(0, 3, 1, 2))
        return self.norm(tokens).permute(0, 3, 1, 2), groups

    def _restore(self, shifted: Tensor, shallow: Tensor) -> Tuple[Tensor, List[Tensor]]:
        deep, groups = self._body(shallow)
        residual = self.conv_last(self.conv_after_body(deep) + shallow)
        return (shifted + residual) / self.img_range + self._mean_like(shifted), groups

    def _mean_like(self, x: Tensor) -> Tensor:
        return torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)

    def _shift(self, x: Tensor) -> Tensor:
        return (x - self._mean_like(x)) * self.img_range

    def forward(self, x: Tensor) -> Tensor:
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        shifted = self._shift(pad_to_multiple(x, self.window_size))
        return self._restore(shifted, self.conv_first(shifted))[0][..., :h, :w]

    def features(self, x: Tensor, taps: str = "decoder") -> List[Tensor]:
        """Each residual group's output, B x embed_dim x H x W (all at full resolution)."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        shallow = self.conv_first(self._shift(pad_to_multiple(x, self.window_size)))
        return [g[..., :h, :w] for g in self._body(shallow)[1]]

    def forward_masked(self, x: Tensor, mask: Tensor, taps: str = "decoder") -> tuple:
        """SimMIM-style masked pass: masked pixels are zeroed and their shallow features replaced by
        zeros (or ``mask_token``), so the outputs do not depend on masked content.
        Returns (restored image, features) like `forward` and `features`."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        mask = pad_to_multiple(check_mask(mask, x), self.window_size)
        shifted = self._shift(pad_to_multiple(x, self.window_size) * mask)
        shallow = apply_mask(self.conv_first(shifted), mask, getattr(self, "mask_token", None))
        restored, groups = self._restore(shifted, shallow)
        return restored[..., :h, :w], [g[..., :h, :w] for g in groups]

    def _adapt_keys(self, state_dict: Dict[str, Tensor], prefix: str) -> None:
        """Skip stored shifted-window masks (rebuilt for each input size), supply the constant
        ``relative_position_index`` where a checkpoint omits it, map the MaskDCPT group names."""
        for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(".attn_mask")]:
            del state_dict[key]
        rename_maskdcpt_groups(state_dict, prefix)
        for name, buffer in self.named_buffers():
            if name.endswith("relative_position_index"):
                state_dict.setdefault(prefix + name, buffer)


def _init_weights(module: nn.Module) -> None:
    """Upstream initialisation: truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


_ENCODE = re.compile(r"^encode_layers\.(\d+)\.")
_DECODE = re.compile(r"^decode_layers(\d+)\.")


def rename_maskdcpt_groups(state_dict: Dict[str, Tensor], prefix: str = "") -> None:
    """Map, in place, the MaskDCPT release's ``encode_layers.i`` / ``decode_layers{i}`` to ``layers``."""
    names = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
    first_decoder = len({m.group(1) for m in map(_ENCODE.match, names) if m})
    for name in names:
        new = _ENCODE.sub(r"layers.\1.", name)
        new = _DECODE.sub(lambda m: f"layers.{first_decoder + int(m.group(1))}.", new)
        if new != name:
            state_dict[prefix + new] = state_dict.pop(prefix + name)


def infer_swinir_config(state: Dict[str, Tensor]) -> Dict:
    """SwinIR constructor arguments from parameter names and shapes (upstream or MaskDCPT layout).

    Releases without relative position bias do not record the head count or window size in any
    shape; the value both releases use (6 heads, window 8) is assumed then.
    """
    state = dict(state)
    rename_maskdcpt_groups(state)
    if "conv_first.weight" not in state:
        raise DcptError("not a SwinIR state dict: it has no conv_first.weight")
    embed_dim, in_chans = (int(n) for n in state["conv_first.weight"].shape[:2])
    groups = sorted({int(k.split(".")[1]) for k in state if k.startswith("layers.")})
    depths = tuple(len({k.split(".")[4] for k in state if k.startswith(f"layers.{i}.residual_group.blocks.")})
                   for i in groups)
    table = state.get("layers.0.residual_group.blocks.0.attn.relative_position_bias_table")
    heads = [state[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"].shape[1]
             for i in groups] if table is not None else [6] * len(groups)
    window = (round(table.shape[0] ** 0.5) + 1) // 2 if table is not None else 8
    hidden = state["layers.0.residual_group.blocks.0.mlp.fc1.weight"].shape[0]
    return dict(in_chans=in_chans, embed_dim=embed_dim, depths=depths, num_heads=tuple(int(h) for h in heads),
                window_size=window, mlp_ratio=hidden / embed_dim,
                resi_connection="3conv" if "conv_after_body.0.weight" in state else "1conv",
                relative_position_bias=table is not None, shift_mask=table is not None)


register_arch("swinir", SwinIR)
register_config_inferer("swinir", infer_swinir_config)


@register_model("swinir-5d", arch="swinir")
def swinir_5d():
    """Upstream colour-denoising SwinIR (180 wide, 6 groups of 6 blocks, window 8), as DCPT uses it."""
    return dict(embed_dim=180, depths=(6,) * 6, num_heads=(6,) * 6, window_size=8, mlp_ratio=2.0)


@register_model("swinir-maskdcpt-5d", arch="swinir")
def swinir_maskdcpt_5d():
    """The MaskDCPT release's SwinIR: same widths, no relative position bias, no shifted-window masks."""
    return dict(swinir_5d(), relative_position_bias=False, shift_mask=False)


@register_model("swinir-tiny", arch="swinir")
def swinir_tiny():
    """A 24-wide SwinIR with 2 groups of 2 blocks for tests and CPU demos."""
    return dict(embed_dim=24, depths=(2, 2), num_heads=(2, 2), window_size=8, mlp_ratio=2.0)
