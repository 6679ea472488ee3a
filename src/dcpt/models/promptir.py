"""PromptIR (Potlapalli et al., NeurIPS 2023): Restormer whose decoder mixes in learned prompts.

At each of the three lower decoder levels a prompt-generation block weighs `prompt_len` learned
prompt maps by a softmax over the level's globally pooled features, resizes the mix to the level
(bilinear) and convolves it; a prompt-interaction Transformer block (``noise_level*``) runs on the
concatenation and a 1x1 conv (``reduce_noise_level*``) brings the width back.

The class defaults are va1shn9v/PromptIR `net/model.py` with ``decoder=True`` (35.59 M parameters).
Upstream also builds six 1x1 convs that its forward never uses (``chnl_reduce1..3``,
``reduce_noise_channel_1..3``, 0.13 M parameters); `unused_upstream_layers` keeps them so that
upstream checkpoints load. The releases drop them:

* ``promptir-5d``: the DCPT release (``basicsr/archs/promptir_arch.py``, class ``PromptIR``, test
  config ``test_PromptIR_5d.yml``): upstream names and computation without the unused convs;
* ``promptir-maskdcpt-5d``: the MaskDCPT release (its ``promptir_arch.py`` at test time,
  ``mask_promptir_arch.py`` in pre-training, same tensors): stages ``<stage>.blocks.<i>``, plain
  LayerNorms (``norm1.weight``), resizers ``…conv``, and ``bias=True`` (its class default).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DcptError
from .import_basicsr import register_config_inferer
from .pyramid_net import RESTORMER_SIZE, PyramidTransformerNet, infer_pyramid_config
from .registry import register_arch, register_model
from .transformer_blocks import BlockConfig, OverlapPatchEmbed, masked_by


class PromptGenBlock(nn.Module):
    """Input-conditioned prompt: softmax(linear(mean-pooled x)) weights over `prompt_len` learned
    `prompt_dim` x `prompt_size` x `prompt_size` maps, bilinearly resized to x, then a 3x3 conv.
    Under a mask (MaskDCPT) the resized prompt and the conv output are masked; the pooling still
    runs over every position, as in the release."""

    def __init__(self, prompt_dim: int, prompt_len: int, prompt_size: int, lin_dim: int):
        super().__init__()
        self.prompt_param = nn.Parameter(torch.rand(1, prompt_len, prompt_dim, prompt_size, prompt_size))
        self.linear_layer = nn.Linear(lin_dim, prompt_len)
        self.conv3x3 = nn.Conv2d(prompt_dim, prompt_dim, kernel_size=3, padding=1, bias=False)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        weights = F.softmax(self.linear_layer(x.mean(dim=(-2, -1))), dim=1)
        prompt = torch.einsum("bl,lchw->bchw", weights, self.prompt_param[0])
        prompt = F.interpolate(prompt, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return masked_by(self.conv3x3(masked_by(prompt, mask)), mask)


class PromptIR(PyramidTransformerNet):
    """Restormer's encoder; decoder levels 3, 2, 1 preceded by prompt blocks on the latent and on
    the level-3 and level-2 outputs. `prompt_dims` / `prompt_sizes` are listed from the finest
    prompt (``prompt1``, on the 2dim level) to the coarsest (``prompt3``, on the 8dim latent).

    `key_layout`, `layernorm_type`: which release's names (see `dcpt.models.transformer_blocks`).
    `mask_token`: add a learned token (``mask_token``, dim values) for `forward_masked`; off by
    default so that the parameter set equals the releases'.
    """

    def __init__(
        self,
        inp_channels: int = 3,
        out_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layernorm_type: str = "WithBias",
        key_layout: str = "upstream",
        decoder: bool = True,
        prompt_dims: Sequence[int] = (64, 128, 320),
        prompt_sizes: Sequence[int] = (64, 32, 16),
        prompt_len: int = 5,
        unused_upstream_layers: bool = True,
        mask_token: bool = False,
    ):
        super().__init__()
        if not decoder:
            raise DcptError("PromptIR needs decoder=True (upstream's decoder=False does not run)")
        if len(num_blocks) != 4 or len(heads) != 4 or len(prompt_dims) != 3 or len(prompt_sizes) != 3:
            raise DcptError(
                f"PromptIR needs 4 num_blocks/heads and 3 prompt_dims/prompt_sizes, got "
                f"{num_blocks}, {heads}, {prompt_dims}, {prompt_sizes}"
            )
        self.in_channels = inp_channels
        self.feature_channels = (2 * dim, 2 * dim, 4 * dim)
        p1, p2, p3 = prompt_dims
        cfg = BlockConfig(ffn_expansion_factor, bias, layernorm_type, key_layout=key_layout)

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.prompt1 = PromptGenBlock(p1, prompt_len, prompt_sizes[0], lin_dim=2 * dim)
        self.prompt2 = PromptGenBlock(p2, prompt_len, prompt_sizes[1], lin_dim=4 * dim)
        self.prompt3 = PromptGenBlock(p3, prompt_len, prompt_sizes[2], lin_dim=8 * dim)
        if unused_upstream_layers:
            self.chnl_reduce1 = nn.Conv2d(p1, p1, kernel_size=1, bias=bias)
            self.chnl_reduce2 = nn.Conv2d(p2, p2, kernel_size=1, bias=bias)
            self.chnl_reduce3 = nn.Conv2d(p3, 256, kernel_size=1, bias=bias)
            self.reduce_noise_channel_1 = nn.Conv2d(dim + p1, dim, kernel_size=1, bias=bias)
            self.reduce_noise_channel_2 = nn.Conv2d(2 * dim + p2, 2 * dim, kernel_size=1, bias=bias)
            self.reduce_noise_channel_3 = nn.Conv2d(4 * dim + 256, 4 * dim, kernel_size=1, bias=bias)

        self._build_encoder(cfg, dim, num_blocks, heads)

        self.noise_level3 = cfg.block(8 * dim + p3, heads[2])
        self.reduce_noise_level3 = nn.Conv2d(8 * dim + p3, 4 * dim, kernel_size=1, bias=bias)
        self.up4_3 = cfg.resample(4 * dim, "up")
        self.reduce_chan_level3 = nn.Conv2d(6 * dim, 4 * dim, kernel_size=1, bias=bias)
        self.decoder_level3 = cfg.stage(dim * 4, heads[2], num_blocks[2])

        self.noise_level2 = cfg.block(4 * dim + p2, heads[2])
        self.reduce_noise_level2 = nn.Conv2d(4 * dim + p2, 4 * dim, kernel_size=1, bias=bias)
        self.up3_2 = cfg.resample(4 * dim, "up")
        self.reduce_chan_level2 = nn.Conv2d(4 * dim, 2 * dim, kernel_size=1, bias=bias)
        self.decoder_level2 = cfg.stage(dim * 2, heads[1], num_blocks[1])

        self.noise_level1 = cfg.block(2 * dim + p1, heads[2])
        self.reduce_noise_level1 = nn.Conv2d(2 * dim + p1, 2 * dim, kernel_size=1, bias=bias)
        self.up2_1 = cfg.resample(2 * dim, "up")
        self.decoder_level1 = cfg.stage(dim * 2, heads[0], num_blocks[0])

        self.refinement = cfg.stage(dim * 2, heads[0], num_refinement_blocks)
        self.output = nn.Conv2d(dim * 2, out_channels, kernel_size=3, padding=1, bias=bias)
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(dim))

    @staticmethod
    def _prompted(
        x: Tensor, prompt: PromptGenBlock, interaction: nn.Module, reduce: nn.Conv2d, mask: Optional[Tensor]
    ) -> Tensor:
        return reduce(interaction(torch.cat([x, prompt(x, mask)], 1), mask))

    def _trunk(self, embedded: Tensor, masks: Optional[List[Tensor]] = None) -> List[Tensor]:
        m: Sequence[Optional[Tensor]] = masks or [None] * 4
        enc1, enc2, enc3, latent = self._encode(embedded, m)
        latent = self._prompted(latent, self.prompt3, self.noise_level3, self.reduce_noise_level3, m[3])
        dec3 = self.decoder_level3(
            self.reduce_chan_level3(torch.cat([self.up4_3(latent, m[3]), enc3], 1)), m[2]
        )
        dec3 = self._prompted(dec3, self.prompt2, self.noise_level2, self.reduce_noise_level2, m[2])
        dec2 = self.decoder_level2(
            self.reduce_chan_level2(torch.cat([self.up3_2(dec3, m[2]), enc2], 1)), m[1]
        )
        dec2 = self._prompted(dec2, self.prompt1, self.noise_level1, self.reduce_noise_level1, m[1])
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2, m[1]), enc1], 1), m[0])
        return [dec1, dec2, dec3]


def infer_promptir_config(state: Dict[str, Tensor]) -> Dict:
    """PromptIR constructor arguments from parameter names and shapes (any of the three layouts)."""
    prompts: List[Tensor] = []
    for i in (1, 2, 3):
        prompt = state.get(f"prompt{i}.prompt_param")
        if prompt is None:
            raise DcptError("not a PromptIR state dict: prompt1..3.prompt_param are missing")
        prompts.append(prompt)
    return dict(
        infer_pyramid_config(state),
        decoder=True,
        prompt_dims=tuple(int(p.shape[2]) for p in prompts),
        prompt_sizes=tuple(int(p.shape[3]) for p in prompts),
        prompt_len=int(prompts[0].shape[1]),
        unused_upstream_layers="chnl_reduce1.weight" in state,
    )


register_arch("promptir", PromptIR)
register_config_inferer("promptir", infer_promptir_config)


@register_model("promptir-5d", arch="promptir")
def promptir_5d():
    """The DCPT release's 5-degradation PromptIR (its promptir_arch.PromptIR, test_PromptIR_5d.yml)."""
    return dict(
        **RESTORMER_SIZE,
        decoder=True,
        unused_upstream_layers=False,
    )


@register_model("promptir-maskdcpt-5d", arch="promptir")
def promptir_maskdcpt_5d():
    """The MaskDCPT release's 5-degradation PromptIR (promptir_arch.PromptIR, test_PromptIR_5d.yml)."""
    return dict(
        **RESTORMER_SIZE,
        decoder=True,
        bias=True,
        key_layout="maskdcpt",
        unused_upstream_layers=False,
    )


@register_model("promptir-tiny", arch="promptir")
def promptir_tiny():
    """A 16-wide PromptIR (one block per level, small prompts) for tests and CPU demos."""
    return dict(
        dim=16,
        num_blocks=(1, 1, 1, 1),
        num_refinement_blocks=1,
        heads=(1, 1, 2, 2),
        prompt_dims=(16, 32, 48),
        prompt_sizes=(16, 8, 4),
        prompt_len=3,
        unused_upstream_layers=False,
    )
