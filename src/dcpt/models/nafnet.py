"""NAFNet (Chen et al., ECCV 2022): a U-Net of nonlinear-activation-free blocks.

Parameter names and shapes follow megvii-research/NAFNet (`NAFNet_arch.py`), so its released
checkpoints load strictly. Additions for DCPT and MaskDCPT: `features` (the multi-scale pyramid the
degradation classifier reads), `forward_masked` (sparse encoder, dense decoder), and the TLC test-time
conversion `local_pooling`.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import ConfigError
from .layers import LayerNorm2d, LocalAvgPool2d, SimpleGate, pad_to_multiple
from .classifier import TAPS, check_taps
from .masking import check_mask, fill_from_visible, masked_mean, resize_mask
from .registry import register_arch, register_model


class NAFBlock(nn.Module):
    """Norm -> 1x1 -> depthwise 3x3 -> SimpleGate -> simplified channel attention -> 1x1, then a
    gated FFN; both branches are added back with learned per-channel scales `beta` and `gamma`
    (zero at initialisation, so a fresh block is the identity).

    With a `mask` (`B x 1 x H x W`, 1 = visible) the block is sparse: the input of the only spatial
    operation (the depthwise conv) is zeroed at masked positions, the channel attention averages over
    visible positions only, and the output is zeroed at masked positions. Every other operation is
    per pixel, so visible outputs do not depend on masked content at all.
    """

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        dw = c * dw_expand
        ffn = c * ffn_expand
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.dropout1 = nn.Identity()
        self.dropout2 = nn.Identity()
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.conv1(self.norm1(inp))
        if mask is not None:
            x = x * mask
        x = self.sg(self.conv2(x))
        pooled = self.sca[0](x) if mask is None else masked_mean(x, mask)
        x = self.dropout1(self.conv3(x * self.sca[1](pooled)))
        y = inp + x * self.beta
        x = self.dropout2(self.conv5(self.sg(self.conv4(self.norm2(y)))))
        out = y + x * self.gamma
        return out if mask is None else out * mask


class NAFNet(nn.Module):
    """The NAFNet U-Net with a global residual, following the restoration-net contract of dcpt.

    * `net(x) -> y`: `x` is `B x img_channel x H x W` of any size; it is reflect-padded to a multiple
      of `2 ** len(enc_blk_nums)` (the DCPT test protocol) and the output is cropped back.
    * `net.features(x) -> list[Tensor]`: the outputs of the decoder stages on the way back up, after
      the skip connections (the modules the official DCPT pre-training hooks, `decoders.i`), full
      resolution first: widths `feature_channels = (width, 2 width, 4 width, ...)`. The middle blocks
      are not included, as in the official code. Features cover the padded image, so their sizes
      are exact powers of two apart. `features(x, taps="encoder")` returns the encoder stage outputs
      before each down-sampling instead (same widths and sizes), the features MaskDCPT's classifier
      reads; `forward_masked` takes the same `taps`.
    * `net.forward_masked(x, mask) -> (y, features)`: the masked forward of MaskDCPT, a sparse
      encoder and a dense decoder as in SparK; `mask` is `B x 1 x H x W`, 1 = visible (see
      `dcpt.models.masking.random_patch_mask`, default patch size `mask_patch_size =
      2 ** len(enc_blk_nums)`, one pixel of the coarsest scale). The masked input is zeroed; in the
      encoder and middle blocks every block is sparse (see `NAFBlock`) and the map after `intro` and
      each down-sampling is zeroed at masked positions, with the mask taken to each scale by
      min-pooling. The decoder then runs densely on those maps, whose masked positions hold zeros (a
      zero mask token, so no parameter is added and official checkpoints still load): it fills the
      holes from their context, so `y` is a whole restored image and an L1 against the clean image
      over every pixel is a meaningful target. The global residual adds the masked input with its
      holes filled coarsely from visible pixels (`fill_from_visible`), so masked outputs start near
      the right colour instead of at zero. Nothing masked enters the encoder, so `y` and every
      feature are independent of the masked content.
    """

    feature_taps = TAPS

    def __init__(
        self,
        img_channel: int = 3,
        width: int = 16,
        middle_blk_num: int = 1,
        enc_blk_nums: Sequence[int] = (1, 1, 1, 28),
        dec_blk_nums: Sequence[int] = (1, 1, 1, 1),
    ):
        super().__init__()
        enc_blk_nums, dec_blk_nums = tuple(enc_blk_nums), tuple(dec_blk_nums)
        if len(enc_blk_nums) != len(dec_blk_nums) or not enc_blk_nums:
            raise ConfigError(
                f"NAFNet needs as many decoder as encoder stages (at least one), got "
                f"enc_blk_nums={enc_blk_nums} and dec_blk_nums={dec_blk_nums}"
            )
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
        self.padder_size = 2 ** len(enc_blk_nums)
        self.mask_patch_size = self.padder_size
        self.feature_channels: Tuple[int, ...] = tuple(width * 2**i for i in range(len(dec_blk_nums)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    def features(self, x: torch.Tensor, taps: str = "decoder") -> List[torch.Tensor]:
        return self._run(x, head=False, taps=taps)[1]

    def forward_masked(self, x: torch.Tensor, mask: torch.Tensor,
                       taps: str = "decoder") -> Tuple[torch.Tensor, List[torch.Tensor]]:
        return self._run(x, check_mask(mask, x), taps=taps)

    def _run(self, inp: torch.Tensor, mask: Optional[torch.Tensor] = None, head: bool = True, taps: str = "decoder"):
        check_taps(taps, self.feature_taps, type(self).__name__)
        height, width = inp.shape[-2:]
        inp = pad_to_multiple(inp, self.padder_size)
        base = inp
        if mask is not None:
            mask = pad_to_multiple(mask, self.padder_size)
            inp = inp * mask
            base = fill_from_visible(inp, mask, 2 * self.mask_patch_size)
        x = _sparse(self.intro(inp), mask)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = _blocks(encoder, x, mask)
            skips.append(x)
            if taps == "encoder" and not head and len(skips) == len(self.encoders):
                return None, skips  # nothing deeper is needed
            x = down(x)
            mask = None if mask is None else resize_mask(mask, x.shape[-2:])
            x = _sparse(x, mask)
        x = _blocks(self.middle_blks, x, mask)
        features = []
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)  # dense: the sparse encoder's zeros act as mask tokens
            features.append(x)
        features.reverse()
        if taps == "encoder":
            features = skips
        if not head:
            return None, features
        y = self.ending(x) + base
        return y[:, :, :height, :width], features


def _sparse(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    return x if mask is None else x * mask


def _blocks(stage: nn.Sequential, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    if mask is None:
        return stage(x)
    for block in stage:
        x = block(x, mask)
    return x


def local_pooling(net: NAFNet, train_size=256, base_ratio: float = 1.5) -> NAFNet:
    """TLC test-time conversion, in place: each block's global average pool (`sca.0`) becomes a
    local average over `base_ratio` times the training crop at the block's scale.

    `train_size` is the training crop in pixels (an int or `(H, W)`); the official release uses
    1.5 x the crop. Returns `net`. Parameter names are unchanged (the pool has none).
    """
    th, tw = (train_size, train_size) if isinstance(train_size, int) else tuple(train_size)
    base = (int(th * base_ratio), int(tw * base_ratio))
    levels = len(net.encoders)
    stages = [(stage, i) for i, stage in enumerate(net.encoders)]
    stages += [(net.middle_blks, levels)]
    stages += [(stage, levels - 1 - i) for i, stage in enumerate(net.decoders)]
    for stage, level in stages:
        fh, fw = th // 2**level, tw // 2**level
        kernel = (fh * base[0] // th, fw * base[1] // tw)
        for block in stage:
            block.sca[0] = LocalAvgPool2d(kernel)
    return net


register_arch("nafnet", NAFNet)


@register_model("nafnet-5d", arch="nafnet")
def nafnet_5d():
    """The DCPT / MaskDCPT all-in-one NAFNet (width 64)."""
    return dict(width=64, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


@register_model("nafnet-w16-28", arch="nafnet")
def nafnet_w16_28():
    """The 5D layout at width 16: the step-time benchmark's net."""
    return dict(width=16, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


@register_model("nafnet-small", arch="nafnet")
def nafnet_small():
    """A CPU-trainable NAFNet for demos."""
    return dict(width=32, enc_blk_nums=(1, 1, 1, 4), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


@register_model("nafnet-tiny", arch="nafnet")
def nafnet_tiny():
    """The smallest useful NAFNet, for tests and quick runs."""
    return dict(width=16, enc_blk_nums=(1, 1, 1, 2), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))
