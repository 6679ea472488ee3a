"""Restormer (Zamir et al., CVPR 2022): a 4-level U-Net of channel-attention Transformer blocks.

The class defaults are swz30/Restormer's `restormer_arch.py` (26.13 M parameters). The releases
differ from it and from each other in more than names, so their presets set, besides the layout of
the keys, what they compute:

* ``restormer-5d``: the DCPT release (``basicsr/archs/restormer_arch.py``, class ``Restormer``, test
  config ``test_Restormer_5d.yml``): stages ``<stage>.body.<i>``, bias-free LayerNorm with eps
  1e-6, and ReLU instead of softmax in the channel attention;
* ``restormer-maskdcpt-5d``: the MaskDCPT release (its ``restormer_arch.py`` at test time,
  ``mask_restormer_arch.py`` in pre-training, same tensors): stages ``<stage>.blocks.<i>``, a
  plain LayerNorm with bias (eps 1e-5), softmax attention.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import DcptError
from .import_basicsr import register_config_inferer
from .pyramid_net import RESTORMER_SIZE, PyramidTransformerNet, infer_pyramid_config
from .registry import register_arch, register_model
from .transformer_blocks import BlockConfig, OverlapPatchEmbed


class Restormer(PyramidTransformerNet):
    """Encoder levels at widths dim, 2dim, 4dim, latent at 8dim; the decoder mirrors them and the
    full-resolution level stays at 2dim (concatenated skip, no channel reduction), then refinement
    blocks and a 3x3 conv predict the residual added to the input.

    `key_layout`, `layernorm_type`, `layernorm_eps`, `attention`: which release's names and
    computation (see `dcpt.models.transformer_blocks`). `mask_token`: add a learned token
    (``mask_token``, dim values) for `forward_masked`; off by default so that the parameter set
    equals the releases'.
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
        layernorm_eps: float = 1e-5,
        attention: str = "softmax",
        key_layout: str = "upstream",
        mask_token: bool = False,
    ):
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4:
            raise DcptError(
                f"num_blocks and heads need 4 entries (3 levels + latent), got {num_blocks}, {heads}"
            )
        self.in_channels = inp_channels
        self.feature_channels = (2 * dim, 2 * dim, 4 * dim)
        cfg = BlockConfig(ffn_expansion_factor, bias, layernorm_type, layernorm_eps, attention, key_layout)

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self._build_encoder(cfg, dim, num_blocks, heads)

        self.up4_3 = cfg.resample(dim * 8, "up")
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, kernel_size=1, bias=bias)
        self.decoder_level3 = cfg.stage(dim * 4, heads[2], num_blocks[2])
        self.up3_2 = cfg.resample(dim * 4, "up")
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, kernel_size=1, bias=bias)
        self.decoder_level2 = cfg.stage(dim * 2, heads[1], num_blocks[1])
        self.up2_1 = cfg.resample(dim * 2, "up")
        self.decoder_level1 = cfg.stage(dim * 2, heads[0], num_blocks[0])

        self.refinement = cfg.stage(dim * 2, heads[0], num_refinement_blocks)
        self.output = nn.Conv2d(dim * 2, out_channels, kernel_size=3, padding=1, bias=bias)
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(dim))

    def _trunk(self, embedded: Tensor, masks: Optional[List[Tensor]] = None) -> List[Tensor]:
        m: Sequence[Optional[Tensor]] = masks or [None] * 4
        enc1, enc2, enc3, latent = self._encode(embedded, m)
        dec3 = self.decoder_level3(
            self.reduce_chan_level3(torch.cat([self.up4_3(latent, m[3]), enc3], 1)), m[2]
        )
        dec2 = self.decoder_level2(
            self.reduce_chan_level2(torch.cat([self.up3_2(dec3, m[2]), enc2], 1)), m[1]
        )
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2, m[1]), enc1], 1), m[0])
        return [dec1, dec2, dec3]


def infer_restormer_config(state: Dict[str, Tensor]) -> Dict:
    """Restormer arguments from a state dict. What names cannot show (norm eps, attention) is taken
    from the release that uses the layout: ``<stage>.body.<i>`` is only the DCPT release's."""
    config = infer_pyramid_config(state)
    if config["key_layout"] == "dcpt-restormer":
        config.update(layernorm_eps=1e-6, attention="relu")
    return config


register_arch("restormer", Restormer)
register_config_inferer("restormer", infer_restormer_config)


@register_model("restormer-5d", arch="restormer")
def restormer_5d():
    """The DCPT release's 5-degradation Restormer (its restormer_arch.Restormer, test_Restormer_5d.yml)."""
    return dict(
        **RESTORMER_SIZE,
        layernorm_type="BiasFree",
        layernorm_eps=1e-6,
        attention="relu",
        key_layout="dcpt-restormer",
    )


@register_model("restormer-maskdcpt-5d", arch="restormer")
def restormer_maskdcpt_5d():
    """The MaskDCPT release's 5-degradation Restormer (restormer_arch.Restormer, test_Restormer_5d.yml)."""
    return dict(
        **RESTORMER_SIZE,
        layernorm_type="WithBias",
        key_layout="maskdcpt",
    )


@register_model("restormer-tiny", arch="restormer")
def restormer_tiny():
    """A 0.8 M-parameter Restormer (widths 16-128, one block per level) for tests and CPU demos."""
    return dict(dim=16, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 1, 2, 2))
