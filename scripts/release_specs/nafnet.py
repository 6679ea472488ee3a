"""Release NAFNets against dcpt's NAFNet presets (see scripts/make_release_fixtures.py).

* ``nafnet-5d``: the DCPT release's `NAFNetBaseline` (keys ``decoder{i}.j``);
* ``nafnet-maskdcpt-5d``: the MaskDCPT release's `NAFNetBaseline` (keys ``encoders.i.blocks.j``,
  `nn.LayerNorm` with eps 1e-5), which its 5D, 12D and mixed test configs all build;
* ``nafnet-maskdcpt-5d-masked``: the MaskDCPT release's `MaskNAFNetBaseline` under a fixed patch
  mask. Its forward draws its own random mask and ends in a hard-coded kNN read-out, so `run`
  replaces `model.mask` by the fixed mask and stops the forward, with a private exception from a
  hook, right after the last decoder stage, whose output is what the fixture records.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_release_fixtures import Spec  # noqa: E402

FIVE_D = dict(
    width=64, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1], window_size=16
)
REDUCED = dict(width=8, enc_blk_nums=[1, 2], middle_blk_num=1, dec_blk_nums=[2, 1], window_size=16)
OVERRIDES = dict(width=8, enc_blk_nums=[1, 2], middle_blk_num=1, dec_blk_nums=[2, 1])
# masked: a patch of 8 on a 32 x 16 input gives a 4 x 2 grid (8 patches, 4 kept per image)
MASKED_REDUCED = dict(REDUCED, window_size=8)
MASKED_INPUT = (2, 3, 32, 16)


class _Stop(Exception):
    """Raised by the capture hook: ends the release's forward before its kNN read-out."""


def patch_mask(g: torch.Generator) -> dict:
    """A boolean `B x 1 x 4 x 2` patch grid keeping half of the patches of each image (True = visible)."""
    b, _, h, w = MASKED_INPUT
    grid_h, grid_w = h // MASKED_REDUCED["window_size"], w // MASKED_REDUCED["window_size"]
    keep = torch.rand(b, grid_h * grid_w, generator=g).argsort(dim=1)[:, : grid_h * grid_w // 2]
    grid = torch.zeros(b, grid_h * grid_w, dtype=torch.bool).scatter_(1, keep, True)
    return {"mask": grid.view(b, 1, grid_h, grid_w)}


def run_masked(model, inputs) -> torch.Tensor:
    """The last decoder stage's output of `MaskNAFNetBaseline` under `inputs["mask"]`."""
    fixed = inputs["mask"]

    def mask(batch, h, w, device, generator=None):
        assert (batch, 1, h, w) == tuple(fixed.shape), (batch, h, w, tuple(fixed.shape))
        return fixed.to(device)

    model.mask = mask
    captured = {}

    def hook(module, args, out):
        captured["out"] = out.detach().clone()
        raise _Stop

    handle = getattr(model, f"decoder{len(model.ups) - 1}").register_forward_hook(hook)
    try:
        model(inputs["input"])
    except _Stop:
        pass
    finally:
        handle.remove()
    return captured["out"]


SPECS = [
    Spec(
        name="nafnet-5d",
        release="dcpt",
        module="nafnet_arch",
        cls="NAFNetBaseline",
        full=FIVE_D,
        reduced=REDUCED,
        preset="nafnet-5d",
        overrides=OVERRIDES,
        notes="output: NAFNetBaseline(input) = ending(decoder) + input",
    ),
    Spec(
        name="nafnet-maskdcpt-5d",
        release="maskdcpt",
        module="nafnet_arch",
        cls="NAFNetBaseline",
        full=FIVE_D,
        reduced=REDUCED,
        preset="nafnet-maskdcpt-5d",
        overrides=OVERRIDES,
        notes="output: NAFNetBaseline(input) = ending(decoder) + input; also the 12D and mixed configs",
    ),
    Spec(
        name="nafnet-maskdcpt-5d-masked",
        release="maskdcpt",
        module="mask_nafnet_arch",
        cls="MaskNAFNetBaseline",
        full=FIVE_D,
        reduced=MASKED_REDUCED,
        preset="nafnet-maskdcpt-5d",
        overrides=dict(OVERRIDES, mask_patch_size=8),
        input_shape=MASKED_INPUT,
        run=run_masked,
        extra_inputs=patch_mask,
        notes="output: the last decoder stage of MaskNAFNetBaseline under inputs.mask (B x 1 x H/p x W/p, "
        "True = visible), captured before the release's kNN read-out",
    ),
]
