"""Restormer (Zamir et al., CVPR 2022): a 4-level U-Net of channel-attention Transformer blocks.

Parameter names, shapes and defaults follow swz30/Restormer `restormer_arch.py` (26.13 M parameters
at the defaults), so its checkpoints and the DCPT / MaskDCPT Restormer releases load strictly.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
from torch import Tensor, nn

from ..errors import DcptError
from .import_basicsr import register_config_inferer
from .registry import register_arch, register_model
from .transformer_blocks import (
    Downsample,
    OverlapPatchEmbed,
    PyramidTransformerNet,
    Upsample,
    adapt_on_load,
    infer_pyramid_config,
    transformer_stage,
)


class Restormer(PyramidTransformerNet):
    """Encoder levels at widths dim, 2dim, 4dim, latent at 8dim; the decoder mirrors them and the
    full-resolution level stays at 2dim (concatenated skip, no channel reduction), then refinement
    blocks and a 3x3 conv predict the residual added to the input.

    `mask_token`: add a learned token (``mask_token``, dim values) for `forward_masked`; off by
    default so that the parameter set equals upstream's.
    """

    def __init__(self, inp_channels: int = 3, out_channels: int = 3, dim: int = 48,
                 num_blocks: Sequence[int] = (4, 6, 6, 8), num_refinement_blocks: int = 4,
                 heads: Sequence[int] = (1, 2, 4, 8), ffn_expansion_factor: float = 2.66, bias: bool = False,
                 layernorm_type: str = "WithBias", mask_token: bool = False):
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4:
            raise DcptError(f"num_blocks and heads need 4 entries (3 levels + latent), got {num_blocks}, {heads}")
        self.in_channels = inp_channels
        self.feature_channels = (2 * dim, 2 * dim, 4 * dim)

        def stage(width: int, level: int, depth: int) -> nn.Sequential:
            return transformer_stage(width, heads[level], depth, ffn_expansion_factor, bias, layernorm_type)

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.encoder_level1 = stage(dim, 0, num_blocks[0])
        self.down1_2 = Downsample(dim)
        self.encoder_level2 = stage(dim * 2, 1, num_blocks[1])
        self.down2_3 = Downsample(dim * 2)
        self.encoder_level3 = stage(dim * 4, 2, num_blocks[2])
        self.down3_4 = Downsample(dim * 4)
        self.latent = stage(dim * 8, 3, num_blocks[3])

        self.up4_3 = Upsample(dim * 8)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, kernel_size=1, bias=bias)
        self.decoder_level3 = stage(dim * 4, 2, num_blocks[2])
        self.up3_2 = Upsample(dim * 4)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, kernel_size=1, bias=bias)
        self.decoder_level2 = stage(dim * 2, 1, num_blocks[1])
        self.up2_1 = Upsample(dim * 2)
        self.decoder_level1 = stage(dim * 2, 0, num_blocks[0])

        self.refinement = stage(dim * 2, 0, num_refinement_blocks)
        self.output = nn.Conv2d(dim * 2, out_channels, kernel_size=3, padding=1, bias=bias)
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(dim))
        self.register_load_state_dict_pre_hook(adapt_on_load)

    def _trunk(self, embedded: Tensor) -> List[Tensor]:
        enc1 = self.encoder_level1(embedded)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))
        dec3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], 1)))
        dec2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], 1)))
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], 1))
        return [dec1, dec2, dec3]

    def _reconstruct(self, full_res: Tensor, image: Tensor) -> Tensor:
        return self.output(self.refinement(full_res)) + image


register_arch("restormer", Restormer)
register_config_inferer("restormer", infer_pyramid_config)


@register_model("restormer-5d", arch="restormer")
def restormer_5d():
    """Upstream defaults, as used by the DCPT / MaskDCPT 5-degradation Restormer."""
    return dict(dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8))


@register_model("restormer-tiny", arch="restormer")
def restormer_tiny():
    """A 0.8 M-parameter Restormer (widths 16-128, one block per level) for tests and CPU demos."""
    return dict(dim=16, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 1, 2, 2))
