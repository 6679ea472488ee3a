"""The restoration-net contract for the Restormer-style U-Nets (Restormer, PromptIR), masked pass included.

`forward_masked(x, mask, through=...)`:

* ``through="all"`` (default) is the MaskDCPT release's ``MaskRestormer`` / ``MaskPromptIR``: the
  masked image is embedded, the embedding zeroed at masked positions (or set to the learned
  ``mask_token``, a dcpt extension), and the mask is kept through encoder, latent, prompts, decoder
  and refinement (see `transformer_blocks`), taken to each scale by min-pooling (for masks of
  ``mask_patch_size`` = 8 patches, as the release makes them, that is its repetition of the patch
  grid). Only visible positions carry information: at a masked position every feature is
  independent of the image (exactly zero for bias-free nets such as ``restormer-5d``; a constant made
  of the biases, and of the mask token if any, otherwise), and ``y`` there is the output conv's
  response to those constants, plus what its 3x3 window reads from visible neighbours at a hole's
  border. The release reads visible positions only (its kNN tail); score ``y`` on visible pixels.
* ``through="encoder"`` is dcpt's own SimMIM-style variant: only the embedding is masked, the
  rest runs densely and fills the holes from context.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from torch import Tensor, nn

from ..errors import DcptError
from .classifier import check_taps
from .layers import pad_to_multiple
from .masking import apply_mask, check_mask, check_through, resize_mask
from .transformer_blocks import BlockConfig, check_image

# Restormer's published size (48 wide, 4/6/6/8 blocks, 4 refinement blocks, 1/2/4/8 heads): both
# releases' Restormer and PromptIR presets are this size and differ only in their options.
RESTORMER_SIZE = dict(dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8))

STAGE_PREFIXES = {"upstream": "", "dcpt-restormer": "body.", "maskdcpt": "blocks."}


def crop_levels(features: Sequence[Tensor], height: int, width: int) -> List[Tensor]:
    """Crop padded feature maps, level i at stride 2**i, back to the input's extent (ceil of H / stride)."""
    return [feat[..., : -(-height // 2**i), : -(-width // 2**i)] for i, feat in enumerate(features)]


class PyramidTransformerNet(nn.Module):
    """Base of the 3-level Transformer U-Nets.

    A subclass builds ``patch_embed``, the encoder (`_build_encoder`), its decoder, ``refinement``
    and ``output``, sets ``in_channels``, ``feature_channels`` and (optionally) a ``mask_token``
    parameter, and implements `_trunk` (embedded input, per-level masks or None -> decoder level
    outputs, full resolution first). Inputs are reflect-padded to a multiple
    of `pad_multiple` (three 2x downsamplings; the releases need it) and cropped back.
    """

    pad_multiple = 8
    mask_patch_size = 8  # the MaskDCPT release's window_size
    in_channels: int
    feature_channels: tuple
    patch_embed: nn.Module  # built by the subclass, as are the two below
    refinement: nn.Module
    output: nn.Module
    feature_taps = ("decoder",)  # the classifier taps it can give (see dcpt.models.classifier)

    def _build_encoder(
        self, cfg: BlockConfig, dim: int, num_blocks: Sequence[int], heads: Sequence[int]
    ) -> None:
        """Restormer's encoder, levels at widths dim, 2dim, 4dim, and its 8dim latent (PromptIR's too)."""
        self.encoder_level1 = cfg.stage(dim, heads[0], num_blocks[0])
        self.down1_2 = cfg.resample(dim, "down")
        self.encoder_level2 = cfg.stage(dim * 2, heads[1], num_blocks[1])
        self.down2_3 = cfg.resample(dim * 2, "down")
        self.encoder_level3 = cfg.stage(dim * 4, heads[2], num_blocks[2])
        self.down3_4 = cfg.resample(dim * 4, "down")
        self.latent = cfg.stage(dim * 8, heads[3], num_blocks[3])

    def _encode(self, embedded: Tensor, m: Sequence[Optional[Tensor]]) -> List[Tensor]:
        """[level 1, 2, 3 outputs, latent]; `m`: the mask at strides 1, 2, 4, 8 (or Nones)."""
        enc1 = self.encoder_level1(embedded, m[0])
        enc2 = self.encoder_level2(self.down1_2(enc1, m[0]), m[1])
        enc3 = self.encoder_level3(self.down2_3(enc2, m[1]), m[2])
        return [enc1, enc2, enc3, self.latent(self.down3_4(enc3, m[2]), m[3])]

    def _trunk(self, embedded: Tensor, masks: Optional[List[Tensor]] = None) -> List[Tensor]:
        raise NotImplementedError

    def _reconstruct(self, full_res: Tensor, image: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Refinement blocks, then a 3x3 conv predicting the residual added to the (masked) image."""
        return self.output(self.refinement(full_res, mask)) + image

    def forward(self, x: Tensor) -> Tensor:
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.pad_multiple)
        features = self._trunk(self.patch_embed(padded))
        return self._reconstruct(features[0], padded)[..., :h, :w]

    def features(self, x: Tensor, taps: str = "decoder") -> List[Tensor]:
        """Decoder level outputs after skip fusion (and prompts): strides 1, 2, 4, widths `feature_channels`."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        return crop_levels(self._trunk(self.patch_embed(pad_to_multiple(x, self.pad_multiple))), h, w)

    def forward_masked(self, x: Tensor, mask: Tensor, taps: str = "decoder", through: str = "all") -> tuple:
        """(restored image, features) of the masked image, `mask` B x 1 x H x W with 1 = visible;
        `through` says how far the mask goes (see the module docstring). The same taps as `features`."""
        check_taps(taps, self.feature_taps, type(self).__name__)
        check_image(x, self.in_channels)
        check_through(through)
        h, w = x.shape[-2:]
        mask = pad_to_multiple(check_mask(mask, x), self.pad_multiple)
        visible = pad_to_multiple(x, self.pad_multiple) * mask
        embedded = apply_mask(self.patch_embed(visible), mask, getattr(self, "mask_token", None))
        masks = None
        if through == "all":
            size = mask.shape[-2:]
            masks = [resize_mask(mask, (size[0] >> i, size[1] >> i)) for i in range(4)]
        features = self._trunk(embedded, masks)
        restored = self._reconstruct(features[0], visible, None if masks is None else masks[0])
        return restored[..., :h, :w], crop_levels(features, h, w)


def infer_pyramid_config(state: Dict[str, Tensor]) -> Dict:
    """Restormer / PromptIR constructor arguments common to both, from parameter names and shapes;
    the key layout is read from the names (``encoder_level1.body.0.…``, ``….blocks.0.…``)."""
    if "patch_embed.proj.weight" not in state:
        raise DcptError("not a Restormer-style state dict: it has no patch_embed.proj.weight")
    layout = next(
        (
            name
            for name, p in STAGE_PREFIXES.items()
            if p and f"encoder_level1.{p}0.attn.temperature" in state
        ),
        "upstream",
    )
    prefix = STAGE_PREFIXES[layout]
    norm_bias = "norm1.bias" if layout == "maskdcpt" else "norm1.body.bias"
    dim, in_channels = state["patch_embed.proj.weight"].shape[:2]
    hidden = state[f"encoder_level1.{prefix}0.ffn.project_out.weight"].shape[1]

    def depth(stage: str) -> int:
        return len(
            {k[len(stage) + 1 + len(prefix) :].split(".")[0] for k in state if k.startswith(stage + ".")}
        )

    stages = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
    return dict(
        inp_channels=int(in_channels),
        out_channels=int(state["output.weight"].shape[0]),
        dim=int(dim),
        num_blocks=tuple(depth(s) for s in stages),
        num_refinement_blocks=depth("refinement"),
        heads=tuple(int(state[f"{s}.{prefix}0.attn.temperature"].shape[0]) for s in stages),
        ffn_expansion_factor=2.66 if int(dim * 2.66) == hidden else hidden / dim,
        bias="output.bias" in state,
        layernorm_type="WithBias" if f"encoder_level1.{prefix}0.{norm_bias}" in state else "BiasFree",
        key_layout=layout,
    )
