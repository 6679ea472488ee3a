"""SwinIR (Liang et al., ICCVW 2021), restoration variant: upscale 1, residual output, no upsampler.

Shallow 3x3 conv -> residual Swin Transformer groups (RSTB: windowed self-attention blocks, the odd
ones on windows shifted by half a window, then a conv and a skip) -> norm, conv, long skip ->
3x3 conv predicting the residual added to the (mean-shifted) input. Blocks: `dcpt.models.swinir_blocks`.

Two parameter layouts of the same network, both loading strictly without renaming:

* ``group_names="layers"`` with relative position bias and shift masks (the family's defaults):
  JingyunLiang/SwinIR ``network_swinir.py``; shifted-window masks are rebuilt for each input size
  instead of being stored, so its stored ``attn_mask`` buffers are skipped on load;
* ``group_names="encode_decode"``, ``relative_position_bias=False``, ``shift_mask=False``: the
  ``SwinIR`` of both the DCPT and the MaskDCPT release (``basicsr/archs/swinir_arch.py``, identical
  networks): the first half of the groups is ``encode_layers.i``, the second ``decode_layers{i}``,
  run one after the other (no skips between them, so not a U-Net); windows are still rolled but
  attention across the wrap is not masked. Presets ``swinir-5d`` and ``swinir-maskdcpt-5d``.

The releases need H, W multiples of the window; this net reflect-pads and crops back, identical to
them on such sizes.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..errors import DcptError
from .classifier import check_taps
from .import_basicsr import register_config_inferer
from .layers import pad_to_multiple
from .masking import apply_mask, check_mask, check_through
from .registry import register_arch, register_model
from .swinir_blocks import RSTB, PatchNorm, hide, init_weights, residual_conv, shifted_window_mask
from .transformer_blocks import AdaptsReleaseCheckpoints, adapt_on_load, check_image

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean that upstream subtracts from RGB inputs
GROUP_NAMES = ("layers", "encode_decode")


class SwinIR(AdaptsReleaseCheckpoints, nn.Module):
    """SwinIR for same-size restoration (denoising, deblocking, all-in-one restoration).

    `img_range` scales the mean-shifted input (1 for [0, 1] images); `drop_path_rate` is the final
    stochastic-depth rate (linear from 0 over all blocks); `group_names` picks the parameter layout
    (module docstring); `mask_token` adds a learned token (``mask_token``, embed_dim values) for
    `forward_masked`, off by default so that the parameter set equals the releases'.
    """

    feature_taps = ("decoder",)  # the classifier taps it can give (see dcpt.models.classifier)

    def __init__(
        self,
        in_chans: int = 3,
        embed_dim: int = 180,
        depths: Sequence[int] = (6, 6, 6, 6, 6, 6),
        num_heads: Sequence[int] = (6, 6, 6, 6, 6, 6),
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        img_range: float = 1.0,
        resi_connection: str = "1conv",
        drop_path_rate: float = 0.0,
        relative_position_bias: bool = True,
        shift_mask: bool = True,
        group_names: str = "layers",
        mask_token: bool = False,
    ):
        super().__init__()
        if len(depths) != len(num_heads) or not depths:
            raise DcptError(f"depths and num_heads need one entry per group, got {depths} and {num_heads}")
        if window_size < 2:
            raise DcptError(f"window_size must be at least 2, got {window_size}")
        if group_names not in GROUP_NAMES or (group_names == "encode_decode" and len(depths) % 2):
            raise DcptError(
                f"group_names must be one of {GROUP_NAMES} ('encode_decode' with an even number of "
                f"groups), got {group_names!r} with {len(depths)} groups"
            )
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
        groups = [
            RSTB(
                embed_dim,
                depth,
                heads,
                window_size,
                mlp_ratio,
                rates[start : start + depth],
                relative_position_bias,
                resi_connection,
            )
            for depth, heads, start in zip(depths, num_heads, starts)
        ]
        if group_names == "layers":
            self.layers = nn.ModuleList(groups)
        else:
            half = len(groups) // 2
            self.encode_layers = nn.ModuleList(groups[:half])
            for i, group in enumerate(groups[half:]):
                self.add_module(f"decode_layers{i}", group)
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(init_weights)
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(embed_dim))
        self.register_load_state_dict_pre_hook(adapt_on_load)

    def groups(self) -> List[RSTB]:
        """The residual groups in the order they run."""
        if hasattr(self, "layers"):
            modules = list(self.layers)
        else:
            modules = [
                *self.encode_layers,
                *(getattr(self, f"decode_layers{i}") for i in range(len(self.encode_layers))),
            ]
        groups = [group for group in modules if isinstance(group, RSTB)]
        if len(groups) != len(modules):
            raise DcptError(
                f"SwinIR residual groups must be RSTBs, got {[type(m).__name__ for m in modules]}"
            )
        return groups

    def _body(self, shallow: Tensor, visible: Optional[Tensor] = None) -> Tuple[Tensor, List[Tensor]]:
        """Shallow features (B x C x H x W) -> (normed deep features, each RSTB's output), all B x C x H x W;
        `visible` (B x H x W x 1) keeps a mask through every layer (`swinir_blocks`)."""
        _, _, h, w = shallow.shape
        shift_mask = None
        if self.use_shift_mask and any(len(g.residual_group.blocks) > 1 for g in self.groups()):
            shift_mask = shifted_window_mask(h, w, self.window_size, self.window_size // 2, shallow.device)
            shift_mask = shift_mask.to(shallow.dtype)
        tokens = hide(self.patch_embed(shallow.permute(0, 2, 3, 1)), visible)
        outputs = []
        for group in self.groups():
            tokens = group(tokens, shift_mask, visible)
            outputs.append(tokens.permute(0, 3, 1, 2))
        return hide(self.norm(tokens), visible).permute(0, 3, 1, 2), outputs

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

    def forward_masked(self, x: Tensor, mask: Tensor, taps: str = "decoder", through: str = "all") -> tuple:
        """Masked pass of MaskDCPT; `mask` is B x 1 x H x W, 1 = visible. Returns (y, features), the
        features being each group's output like `features`. Masked content never reaches either.

        ``through="all"``: the MaskDCPT release's ``MaskSwinIR``. The mask stays on through every
        layer: features are exactly 0 at masked positions. As released, the input is not
        mean-shifted and ``y = conv_last(conv_after_body(deep) * mask + shallow)`` has no input
        residual and no mean added back: y predicts the image itself, and only at visible pixels
        (at masked ones it is the bias of ``conv_last`` plus what its 3x3 kernel reaches from
        visible neighbours), which is where MaskDCPT scores it.
        ``through="encoder"``: dcpt's own SimMIM-style pass (SwinIR has no encoder: the mask is
        applied only at the entry): masked pixels are zeroed, their shallow features replaced, and
        the dense body fills the holes; y is the usual residual output, meaningful everywhere.
        In both, masked shallow features are zeros, or ``mask_token`` if the net has one (under
        "all" it then reaches only y, through the long skip: every norm zeroes masked tokens).
        """
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        check_through(through)
        h, w = x.shape[-2:]
        mask = pad_to_multiple(check_mask(mask, x), self.window_size)
        visible = pad_to_multiple(x, self.window_size) * mask
        token = getattr(self, "mask_token", None)
        if through == "all":
            shallow = apply_mask(self.conv_first(visible), mask, token)
            deep, groups = self._body(shallow, mask.permute(0, 2, 3, 1))
            restored = self.conv_last(self.conv_after_body(deep) * mask + shallow)
        else:
            shifted = self._shift(visible)
            restored, groups = self._restore(shifted, apply_mask(self.conv_first(shifted), mask, token))
        return restored[..., :h, :w], [g[..., :h, :w] for g in groups]

    def _adapt_keys(self, state_dict: Dict[str, Tensor], prefix: str) -> None:
        """Skip stored shifted-window masks (rebuilt for each input size) and supply the constant
        ``relative_position_index`` where a checkpoint omits it."""
        for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(".attn_mask")]:
            del state_dict[key]
        for name, buffer in self.named_buffers():
            if name.endswith("relative_position_index"):
                state_dict.setdefault(prefix + name, buffer)


def group_prefixes(state: Dict[str, Tensor]) -> Tuple[List[str], str]:
    """The residual groups' key prefixes in running order, and the layout they imply."""

    def indices(pattern: str) -> List[int]:
        return sorted({int(m.group(1)) for m in map(re.compile(pattern).match, state) if m})

    encode = indices(r"encode_layers\.(\d+)\.")
    if encode:
        decode = indices(r"decode_layers(\d+)\.")
        return [f"encode_layers.{i}" for i in encode] + [f"decode_layers{i}" for i in decode], "encode_decode"
    return [f"layers.{i}" for i in indices(r"layers\.(\d+)\.")], "layers"


def infer_swinir_config(state: Dict[str, Tensor]) -> Dict:
    """SwinIR constructor arguments from parameter names and shapes (either layout).

    Without relative position bias no shape records the head count or the window size; the
    releases' values (6 heads, window 8) are assumed then.
    """
    if "conv_first.weight" not in state:
        raise DcptError("not a SwinIR state dict: it has no conv_first.weight")
    embed_dim, in_chans = (int(n) for n in state["conv_first.weight"].shape[:2])
    prefixes, layout = group_prefixes(state)
    depths = tuple(
        len({k[len(p) :].split(".")[3] for k in state if k.startswith(f"{p}.residual_group.blocks.")})
        for p in prefixes
    )
    tables = [state.get(f"{p}.residual_group.blocks.0.attn.relative_position_bias_table") for p in prefixes]
    present = [t for t in tables if t is not None]
    if present and len(present) != len(tables):
        missing = [p for p, t in zip(prefixes, tables) if t is None]
        raise DcptError(
            f"SwinIR state dict: {', '.join(missing)} lack the relative position bias the others have"
        )
    bias = bool(present)
    heads = tuple(int(t.shape[1]) for t in present) if bias else (6,) * len(prefixes)
    window = (round(present[0].shape[0] ** 0.5) + 1) // 2 if bias else 8
    hidden = state[f"{prefixes[0]}.residual_group.blocks.0.mlp.fc1.weight"].shape[0]
    return dict(
        in_chans=in_chans,
        embed_dim=embed_dim,
        depths=depths,
        num_heads=heads,
        window_size=window,
        mlp_ratio=hidden / embed_dim,
        resi_connection="3conv" if "conv_after_body.0.weight" in state else "1conv",
        relative_position_bias=bias,
        shift_mask=bias,
        group_names=layout,
    )


register_arch("swinir", SwinIR)
register_config_inferer("swinir", infer_swinir_config)


@register_model("swinir-5d", arch="swinir")
def swinir_5d():
    """The DCPT release's SwinIR, 5D test config: 180 wide, 6 groups of 6 blocks, 6 heads, window 8."""
    return dict(
        embed_dim=180,
        depths=(6,) * 6,
        num_heads=(6,) * 6,
        window_size=8,
        mlp_ratio=2.0,
        relative_position_bias=False,
        shift_mask=False,
        group_names="encode_decode",
    )


@register_model("swinir-maskdcpt-5d", arch="swinir")
def swinir_maskdcpt_5d():
    """The MaskDCPT release's test-time SwinIR, 5D test config: the same network as `swinir-5d`."""
    return swinir_5d()


@register_model("swinir-tiny", arch="swinir")
def swinir_tiny():
    """A 24-wide upstream-layout SwinIR with 2 groups of 2 blocks for tests and CPU demos."""
    return dict(embed_dim=24, depths=(2, 2), num_heads=(2, 2), window_size=8, mlp_ratio=2.0)
