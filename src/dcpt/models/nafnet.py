"""NAFNet (Chen et al., ECCV 2022): a U-Net of nonlinear-activation-free blocks.

One network, three parameter layouts (`naming`), so that every released checkpoint loads strictly
without renaming:

* ``megvii``: megvii-research/NAFNet (`NAFNet_arch.py`), stages ``encoders.i.j``, ``middle_blks.j``,
  ``decoders.i.j``; the default, and the layout of dcpt's own small presets and demo checkpoints;
* ``dcpt``: the DCPT release's `NAFNetBaseline`, decoder stages as attributes ``decoder{i}.j``;
* ``maskdcpt``: the MaskDCPT release's `NAFNetBaseline`, every stage a `NAFBlocks` holding a
  ``blocks`` list: ``encoders.i.blocks.j``, ``middle_blks.blocks.j``, ``decoder{i}.blocks.j``. Its
  LayerNorm is `nn.LayerNorm` over channels, the same formula as megvii's but eps 1e-5 instead of
  1e-6: hence the separate `norm_eps` option.

Additions for DCPT and MaskDCPT: `features` (the multi-scale pyramid the degradation classifier
reads), `forward_masked` (the MaskDCPT release's masked network, or dcpt's own sparse-encoder
variant) and the TLC test-time conversion `local_pooling`.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import ConfigError, DcptError
from .classifier import TAPS, check_taps
from .layers import LayerNorm2d, LocalAvgPool2d, PointwiseConv2d, SimpleGate, pad_to_multiple
from .masking import check_mask, check_through, fill_from_visible, masked_mean, resize_mask
from .registry import register_arch, register_model

NAMINGS = ("megvii", "dcpt", "maskdcpt")


class NAFBlock(nn.Module):
    """Norm -> 1x1 -> depthwise 3x3 -> SimpleGate -> simplified channel attention -> 1x1, then a
    gated FFN; both branches are added back with learned per-channel scales `beta` and `gamma`
    (zero at initialisation, so a fresh block is the identity).

    With a `mask` (`B x 1 x H x W` at the block's scale, 1 = visible) the block runs one of two
    masked variants, chosen by `through`:

    * ``all``: the MaskDCPT release's `MaskNAFBlock`. Both norms normalise visible positions and
      output zero at masked ones, and the attention branch is multiplied by the mask before it is
      added back; the depthwise conv and the channel-attention pool run over all positions, as
      released. A masked position therefore leaves the block as its input plus a constant (the
      FFN applied to a zero norm output).
    * ``encoder``: dcpt's SparK-style sparse block: the depthwise conv's input is zeroed at masked
      positions, the channel attention averages visible positions only, the output is zeroed at
      masked positions.
    """

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2, norm_eps: float = 1e-6):
        super().__init__()
        dw = c * dw_expand
        ffn = c * ffn_expand
        self.conv1 = PointwiseConv2d(c, dw)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = PointwiseConv2d(dw // 2, c)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), PointwiseConv2d(dw // 2, dw // 2))
        self.sg = SimpleGate()
        self.conv4 = PointwiseConv2d(c, ffn)
        self.conv5 = PointwiseConv2d(ffn // 2, c)
        self.norm1 = LayerNorm2d(c, eps=norm_eps)
        self.norm2 = LayerNorm2d(c, eps=norm_eps)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(
        self, inp: torch.Tensor, mask: Optional[torch.Tensor] = None, through: str = "all"
    ) -> torch.Tensor:
        if mask is None:
            x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
            y = inp + self.conv3(x * self.sca(x)) * self.beta
            return y + self.conv5(self.sg(self.conv4(self.norm2(y)))) * self.gamma
        if through == "all":
            x = self.sg(self.conv2(self.conv1(self.norm1(inp) * mask)))
            y = inp + self.conv3(x * self.sca(x)) * mask * self.beta
            return y + self.conv5(self.sg(self.conv4(self.norm2(y) * mask))) * self.gamma
        x = self.sg(self.conv2(self.conv1(self.norm1(inp)) * mask))
        y = inp + self.conv3(x * self.sca[1](masked_mean(x, mask))) * self.beta
        return (y + self.conv5(self.sg(self.conv4(self.norm2(y)))) * self.gamma) * mask


class NAFStage(nn.Module):
    """A run of NAFBlocks under a `blocks` list: the MaskDCPT release's `NAFBlocks` layout
    (``encoders.i.blocks.j``). Iterable and indexable like the `nn.Sequential` of the others."""

    def __init__(self, blocks: Sequence[nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> nn.Module:
        return self.blocks[index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class NAFNet(nn.Module):
    """The NAFNet U-Net with a global residual, following the restoration-net contract of dcpt.

    * `net(x) -> y`: `x` is `B x img_channel x H x W` of any size; it is reflect-padded to a multiple
      of `2 ** len(enc_blk_nums)` (the DCPT test protocol) and the output is cropped back; for sizes
      that are multiples already this is exactly the releases' `ending(x) + inp`.
    * `net.features(x) -> list[Tensor]`: the outputs of the decoder stages on the way back up, after
      the skip connections (the modules the official DCPT pre-training hooks), full resolution
      first: widths `feature_channels = (width, 2 width, 4 width, ...)`. The middle blocks are not
      included, as in the official code. `features(x, taps="encoder")` returns the encoder stage
      outputs before each down-sampling instead (same widths and sizes); `forward_masked` takes the
      same `taps`.
    * `net.forward_masked(x, mask, through="all") -> (y, features)`: the masked forward of
      MaskDCPT; `mask` is `B x 1 x H x W`, 1 = visible, made of whole `mask_patch_size` squares
      (`dcpt.models.masking.random_patch_mask`). `through`:

      - ``all`` (default): the MaskDCPT release's `MaskNAFNetBaseline`. The input is zeroed at
        masked pixels, padded to a multiple of `mask_patch_size`, and the mask is taken to the patch
        grid (a patch counts as visible only if all its pixels are) and from there to every scale by
        repetition. `intro`'s output is zeroed at masked positions; every block of the encoder, the
        middle and the decoder is masked (see `NAFBlock`). Nothing depends on masked content, and at
        a masked position every feature holds a value of the weights alone, the same for every
        image (it varies only with the position's phase under the pixel-shuffle up-sampling).
        `y = ending(last) + masked input`: its masked pixels carry no restoration (zero input plus
        the head applied to those constants), so a reconstruction loss must score visible pixels
        only.
      - ``encoder``: dcpt's own variant, a sparse encoder and a dense decoder as in SparK: the
        encoder and middle blocks are sparse and each map is zeroed at masked positions (the mask
        min-pooled to each scale); the decoder runs densely and fills the holes from context, and
        the global residual adds the masked input with holes filled from visible pixels
        (`fill_from_visible`), so `y` is a whole image and an L1 over every pixel is meaningful.

    `naming` picks the parameter layout (module docstring), `norm_eps` the LayerNorm eps (1e-5 for
    the MaskDCPT release), `mask_patch_size` the MaskDCPT patch (the release's `window_size`; a
    multiple of `2 ** len(enc_blk_nums)` so that the patch grid reaches the coarsest scale, which is
    also the default).
    """

    feature_taps = TAPS

    def __init__(
        self,
        img_channel: int = 3,
        width: int = 16,
        middle_blk_num: int = 1,
        enc_blk_nums: Sequence[int] = (1, 1, 1, 28),
        dec_blk_nums: Sequence[int] = (1, 1, 1, 1),
        naming: str = "megvii",
        norm_eps: float = 1e-6,
        mask_patch_size: Optional[int] = None,
    ):
        super().__init__()
        enc_blk_nums, dec_blk_nums = tuple(enc_blk_nums), tuple(dec_blk_nums)
        if len(enc_blk_nums) != len(dec_blk_nums) or not enc_blk_nums:
            raise ConfigError(
                f"NAFNet needs as many decoder as encoder stages (at least one), got "
                f"enc_blk_nums={enc_blk_nums} and dec_blk_nums={dec_blk_nums}"
            )
        if naming not in NAMINGS:
            raise ConfigError(f"NAFNet naming: expected one of {', '.join(NAMINGS)}, got {naming!r}")
        self.padder_size = 2 ** len(enc_blk_nums)
        self.mask_patch_size = int(mask_patch_size or self.padder_size)
        if self.mask_patch_size % self.padder_size:
            raise ConfigError(
                f"NAFNet mask_patch_size must be a multiple of 2 ** levels = {self.padder_size} "
                f"(one pixel of the coarsest scale), got {mask_patch_size}"
            )
        self.naming = naming

        def stage(c: int, num: int) -> nn.Module:
            blocks = [NAFBlock(c, norm_eps=norm_eps) for _ in range(num)]
            return NAFStage(blocks) if naming == "maskdcpt" else nn.Sequential(*blocks)

        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        if naming == "megvii":
            self.decoders = nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(stage(chan, num))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = stage(chan, middle_blk_num)
        for i, num in enumerate(dec_blk_nums):
            self.ups.append(nn.Sequential(PointwiseConv2d(chan, chan * 2, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            if naming == "megvii":
                self.decoders.append(stage(chan, num))
            else:
                setattr(self, f"decoder{i}", stage(chan, num))
        self.feature_channels: Tuple[int, ...] = tuple(width * 2**i for i in range(len(dec_blk_nums)))

    @property
    def decoder_stages(self) -> List[nn.Module]:
        """The decoder stages, coarsest first, whatever their names (`decoders.i` or `decoder{i}`)."""
        if self.naming == "megvii":
            return list(self.decoders)
        return [getattr(self, f"decoder{i}") for i in range(len(self.ups))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    def features(self, x: torch.Tensor, taps: str = "decoder") -> List[torch.Tensor]:
        return self._run(x, head=False, taps=taps)[1]

    def forward_and_features(
        self, x: torch.Tensor, taps: str = "decoder"
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """``(forward(x), features(x, taps))`` from one pass: DCPT's step restores `gt` and reads the
        features of `lq`, and one pass over both batches is cheaper than two."""
        return self._run(x, taps=taps)

    def forward_masked(
        self, x: torch.Tensor, mask: torch.Tensor, taps: str = "decoder", through: str = "all"
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        check_through(through)
        return self._run(x, check_mask(mask, x), taps=taps, through=through)

    def _run(
        self,
        inp: torch.Tensor,
        mask: Optional[torch.Tensor] = None,
        head: bool = True,
        taps: str = "decoder",
        through: str = "all",
    ):
        check_taps(taps, self.feature_taps, type(self).__name__)
        height, width = inp.shape[-2:]
        if mask is None:
            inp = base = pad_to_multiple(inp, self.padder_size)
        elif through == "all":
            inp, mask = self._patch_grid_mask(inp, mask)
            base = inp
        else:
            inp = pad_to_multiple(inp, self.padder_size)
            mask = pad_to_multiple(mask, self.padder_size)
            inp = inp * mask
            base = fill_from_visible(inp, mask, 2 * self.mask_patch_size)

        def at(x: torch.Tensor) -> Optional[torch.Tensor]:
            return None if mask is None else resize_mask(mask, x.shape[-2:])

        x = self.intro(inp)
        x = x if mask is None else x * at(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = _blocks(encoder, x, at(x), through)
            skips.append(x)
            if taps == "encoder" and not head and len(skips) == len(self.encoders):
                return None, skips  # nothing deeper is needed
            x = down(x)
            if through == "encoder" and mask is not None:
                x = x * at(x)
        x = _blocks(self.middle_blks, x, at(x), through)
        features = []
        for decoder, up, skip in zip(self.decoder_stages, self.ups, skips[::-1]):
            x = up(x) + skip  # under "encoder" the sparse encoder's zeros act as mask tokens
            x = _blocks(decoder, x, at(x) if through == "all" else None, through)
            features.append(x)
        features.reverse()
        if taps == "encoder":
            features = skips
        if not head:
            return None, features
        y = self.ending(x) + base
        return y[:, :, :height, :width], features

    def _patch_grid_mask(self, inp: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The masked, padded input and the mask on the `mask_patch_size` grid (`B x 1 x H/p x W/p`).

        The input is zeroed before it is reflect-padded, so a padded pixel never carries masked
        content; the mask is replicate-padded, so a partial edge patch keeps its own state.
        """
        p = self.mask_patch_size
        inp = pad_to_multiple(inp * mask, p)
        grid = resize_mask(
            pad_to_multiple(mask, p, mode="replicate"), (inp.shape[-2] // p, inp.shape[-1] // p)
        )
        return inp * resize_mask(grid, inp.shape[-2:]), grid


def stage_blocks(stage: nn.Module) -> List[NAFBlock]:
    """The NAFBlocks of one stage (an `NAFStage` or an `nn.Sequential`), in order."""
    if not isinstance(stage, (NAFStage, nn.Sequential)):
        raise DcptError(f"expected a NAFNet stage (NAFStage or nn.Sequential), got {type(stage).__name__}")
    blocks = [block for block in stage if isinstance(block, NAFBlock)]
    if len(blocks) != len(stage):
        raise DcptError(f"a NAFNet stage holds modules other than NAFBlocks: {stage}")
    return blocks


def _blocks(stage: nn.Module, x: torch.Tensor, mask: Optional[torch.Tensor], through: str) -> torch.Tensor:
    if mask is None:
        return stage(x)
    for block in stage_blocks(stage):
        x = block(x, mask, through)
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
    stages += [(stage, levels - 1 - i) for i, stage in enumerate(net.decoder_stages)]
    for stage, level in stages:
        fh, fw = th // 2**level, tw // 2**level
        kernel = (fh * base[0] // th, fw * base[1] // tw)
        for block in stage_blocks(stage):
            block.sca[0] = LocalAvgPool2d(kernel)
    return net


register_arch("nafnet", NAFNet)

FIVE_D = dict(width=64, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


@register_model("nafnet-5d", arch="nafnet")
def nafnet_5d():
    """The DCPT release's all-in-one NAFNetBaseline (width 64), its parameter names included."""
    return dict(FIVE_D, naming="dcpt", mask_patch_size=16)


@register_model("nafnet-maskdcpt-5d", arch="nafnet")
def nafnet_maskdcpt_5d():
    """The MaskDCPT release's NAFNetBaseline (its 5D, 12D and mixed checkpoints): names, eps 1e-5."""
    return dict(FIVE_D, naming="maskdcpt", norm_eps=1e-5, mask_patch_size=16)


@register_model("nafnet-w16-28", arch="nafnet")
def nafnet_w16_28():
    """The 5D layout at width 16: the step-time benchmark's net."""
    return dict(FIVE_D, width=16)


@register_model("nafnet-small", arch="nafnet")
def nafnet_small():
    """A CPU-trainable NAFNet for demos."""
    return dict(width=32, enc_blk_nums=(1, 1, 1, 4), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


@register_model("nafnet-tiny", arch="nafnet")
def nafnet_tiny():
    """The smallest useful NAFNet, for tests and quick runs."""
    return dict(width=16, enc_blk_nums=(1, 1, 1, 2), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))
