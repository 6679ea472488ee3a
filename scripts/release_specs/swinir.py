"""Release SwinIRs against dcpt's SwinIR presets (see scripts/make_release_fixtures.py).

Both releases' ``SwinIR`` (test-time net of the 5D configs) and MaskDCPT's ``MaskSwinIR``. The
release splits the groups as ``encode_layers`` (first half) and ``decode_layers{i}`` built from
``depths[i + 3]``, so it only works with six groups: the reduced configs keep six groups of 1-2
blocks (embed 12, window 4, 2 heads) rather than the one or two a smaller net would have.

For ``MaskSwinIR`` the random mask of its forward (``model.mask``) is replaced by a fixed boolean
mask at patch resolution (B x 1 x H/window x W/window, True = visible, half of the patches), saved
as ``inputs.mask``. ``-masked`` records the last residual group's output (B x C x H x W), taken by
a forward hook that stops the pass there, before any kNN tail the release's forward may carry;
``-masked-output`` records the forward's image output (its kNN tail is commented out at the
recorded commit).
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_release_fixtures import Spec  # noqa: E402

FIVE_D = dict(embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, mlp_ratio=2.0, window_size=8, upscale=1)
REDUCED = dict(
    embed_dim=12, depths=[2, 1, 1, 1, 1, 2], num_heads=[2] * 6, mlp_ratio=2.0, window_size=4, upscale=1
)
OVERRIDES = dict(embed_dim=12, depths=[2, 1, 1, 1, 1, 2], num_heads=[2] * 6, window_size=4)
INPUT = (2, 3, 16, 24)
WINDOW = REDUCED["window_size"]


def patch_mask(g: torch.Generator) -> dict:
    """A fixed visibility mask with half of each image's patches visible (as ``MaskSwinIR.mask``)."""
    b, _, h, w = INPUT
    n = (h // WINDOW) * (w // WINDOW)
    order = torch.rand(b, n, generator=g).argsort(dim=1)
    mask = torch.zeros(b, n, dtype=torch.bool).scatter_(1, order[:, : n // 2], True)
    return {"mask": mask.view(b, 1, h // WINDOW, w // WINDOW)}


class _Stop(Exception):
    """Raised by the hook once the last group's output is captured."""


def with_fixed_mask(model, inputs):
    model.mask = lambda *args, **kwargs: inputs["mask"]
    return model


def last_group_output(model, inputs):
    x = inputs["input"]
    captured = {}

    def hook(module, args, output):
        captured["tokens"] = output
        raise _Stop

    last = getattr(model, f"decode_layers{len(model.encode_layers) - 1}")
    handle = last.register_forward_hook(hook)
    try:
        with_fixed_mask(model, inputs)(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    b, _, h, w = x.shape
    return captured["tokens"].transpose(1, 2).reshape(b, -1, h, w)


def masked_output(model, inputs):
    return with_fixed_mask(model, inputs)(inputs["input"])


COMMON = dict(full=FIVE_D, reduced=REDUCED, overrides=OVERRIDES, input_shape=INPUT)
SPECS = [
    Spec(name="swinir-5d", release="dcpt", module="swinir_arch", cls="SwinIR", preset="swinir-5d", **COMMON),
    Spec(
        name="swinir-maskdcpt-5d",
        release="maskdcpt",
        module="swinir_arch",
        cls="SwinIR",
        preset="swinir-maskdcpt-5d",
        **COMMON,
    ),
    Spec(
        name="swinir-maskdcpt-5d-masked",
        release="maskdcpt",
        module="mask_swinir_arch",
        cls="MaskSwinIR",
        preset="swinir-maskdcpt-5d",
        run=last_group_output,
        extra_inputs=patch_mask,
        notes="output: last residual group (decode_layers2) output under inputs.mask, B x C x H x W",
        **COMMON,
    ),
    Spec(
        name="swinir-maskdcpt-5d-masked-output",
        release="maskdcpt",
        module="mask_swinir_arch",
        cls="MaskSwinIR",
        preset="swinir-maskdcpt-5d",
        run=masked_output,
        extra_inputs=patch_mask,
        notes="output: MaskSwinIR's image output under inputs.mask",
        **COMMON,
    ),
]
