"""SwinIR's building blocks: windowed self-attention, the Swin Transformer block and the residual
group (RSTB) that the network stacks (see `dcpt.models.swinir`).

Tokens are kept channels-last, B x H x W x C. Every block takes an optional `visible` mask
(B x H x W x 1, 1 = visible), the MaskDCPT release's way of keeping a mask through all layers
(`mask_swinir_arch.py`): a block's LayerNorm outputs and its result are zeroed at masked tokens,
an RSTB's conv output too, so a masked token is exactly 0 after every block and nothing a visible
token reads from it depends on the image (zeros enter attention as keys/values equal to the
qkv biases). Parameter names follow JingyunLiang/SwinIR `network_swinir.py`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DcptError


def hide(x: Tensor, visible: Optional[Tensor]) -> Tensor:
    """`x` zeroed where `visible` is 0; `x` itself without a mask."""
    return x if visible is None else x * visible


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


def shifted_window_mask(
    height: int, width: int, window_size: int, shift: int, device: Optional[torch.device] = None
) -> Tensor:
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
    """Multi-head self-attention inside each window, with an optional learned relative position bias
    (the DCPT / MaskDCPT releases have none)."""

    relative_position_index: Tensor  # a buffer, present only with relative position bias

    def __init__(self, dim: int, window_size: int, num_heads: int, relative_position_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise DcptError(f"SwinIR width {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.window_size = window_size
        if relative_position_bias:
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * window_size - 1) ** 2, num_heads)
            )
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
            self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> Optional[Tensor]:
        """heads x N x N bias, or None without relative position bias."""
        if not hasattr(self, "relative_position_bias_table"):
            return None
        n = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1)

    def forward(self, windows: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """`windows`: B x nW x N x C; `mask`: nW x N x N additive or None."""
        b, nw, n, c = windows.shape
        q, k, v = (
            self.qkv(windows).view(b, nw, n, 3, self.num_heads, c // self.num_heads).permute(3, 0, 1, 4, 2, 5)
        )
        bias = self.position_bias()
        if mask is not None:
            bias = mask[:, None] if bias is None else bias + mask[:, None]
        if windows.device.type == "cpu":
            out = _attention_written_out(q, k, v, bias)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if bias is None else bias.to(q.dtype)
            )
        return self.proj(out.transpose(2, 3).reshape(b, nw, n, c))


def _attention_written_out(q: Tensor, k: Tensor, v: Tensor, bias: Optional[Tensor]) -> Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` as three plain ops. On the CPU, for windows of 64 tokens,
    this is 4-5x faster than `scaled_dot_product_attention` (fp32 and bf16 alike; benchmarks in
    docs/performance.md), and it is the releases' own order of operations."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias.to(scores.dtype)
    return scores.softmax(dim=-1) @ v


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

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float,
        drop_path_rate: float = 0.0,
        relative_position_bias: bool = True,
    ):
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.drop_path_rate = drop_path_rate
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, relative_position_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(
        self, x: Tensor, shift_mask: Optional[Tensor] = None, visible: Optional[Tensor] = None
    ) -> Tensor:
        _, h, w, _ = x.shape
        y = hide(self.norm1(x), visible)
        if self.shift_size:
            y = torch.roll(y, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        y = self.attn(window_partition(y, self.window_size), shift_mask if self.shift_size else None)
        y = window_merge(y, self.window_size, h, w)
        if self.shift_size:
            y = torch.roll(y, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        x = x + drop_path(y, self.drop_path_rate, self.training)
        x = x + drop_path(self.mlp(hide(self.norm2(x), visible)), self.drop_path_rate, self.training)
        return hide(x, visible)


class ResidualGroup(nn.Module):
    """The blocks of one RSTB, alternating plain and shifted windows (upstream's BasicLayer)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        drop_path_rates: Sequence[float],
        relative_position_bias: bool,
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                SwinTransformerBlock(
                    dim,
                    num_heads,
                    window_size,
                    0 if i % 2 == 0 else window_size // 2,
                    mlp_ratio,
                    drop_path_rates[i],
                    relative_position_bias,
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: Tensor, shift_mask: Optional[Tensor], visible: Optional[Tensor] = None) -> Tensor:
        for block in self.blocks:
            x = block(x, shift_mask, visible)
        return x


def residual_conv(dim: int, kind: str) -> nn.Module:
    """The conv closing a residual group: '1conv' (3x3) or '3conv' (3x3 to dim/4, 1x1, 3x3 back)."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    if kind == "3conv":
        return nn.Sequential(
            nn.Conv2d(dim, dim // 4, 3, 1, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim // 4, dim // 4, 1, 1, 0),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim // 4, dim, 3, 1, 1),
        )
    raise DcptError(f"resi_connection must be '1conv' or '3conv', got {kind!r}")


class RSTB(nn.Module):
    """Residual Swin Transformer Block: x + conv(Swin blocks(x)) on B x H x W x C tokens."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        drop_path_rates: Sequence[float],
        relative_position_bias: bool,
        resi_connection: str,
    ):
        super().__init__()
        self.residual_group = ResidualGroup(
            dim, depth, num_heads, window_size, mlp_ratio, drop_path_rates, relative_position_bias
        )
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: Tensor, shift_mask: Optional[Tensor], visible: Optional[Tensor] = None) -> Tensor:
        y = self.residual_group(x, shift_mask, visible).permute(0, 3, 1, 2)
        return x + hide(self.conv(y).permute(0, 2, 3, 1), visible)


class PatchNorm(nn.Module):
    """LayerNorm on the embedded tokens (upstream's PatchEmbed with patch size 1: ``patch_embed.norm``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """Upstream initialisation: truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
