"""Release Restormers against dcpt's Restormer presets (see scripts/make_release_fixtures.py).

``restormer-5d``: the DCPT release's ``Restormer`` (its 5D test config gives only ``window_size:
8``, so every other argument is the class default: bias-free LayerNorm, ReLU attention).
``restormer-maskdcpt-5d``: the MaskDCPT release's test-time ``Restormer``; ``-masked``: its
pre-training ``MaskRestormer`` (same tensors) under a fixed mask.

For ``MaskRestormer`` the random mask of its forward (``model.mask``) is replaced by a fixed boolean
mask at patch resolution (B x 1 x H/8 x W/8, True = visible, half of the patches), saved as
``inputs.mask``. Its forward ends in a kNN tail hard-coded for dim 48 (a flattened selection of
visible positions), so the recorded output is taken before it by forward hooks: the outputs of
``decoder_level1`` and of ``refinement`` (the tensor the tail reads), concatenated on the channels
(B x 4 dim x H x W; the header's ``captured`` names them); the last hook stops the pass.

Even at dim 8 the seeded state (0.2 M values, mostly the 3x3 resizer convs) would be 0.8 MB, so
these specs set ``store_state=False``: a test remakes it from the recorded key order and seed.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_release_fixtures import Spec  # noqa: E402

WINDOW = 8
FIVE_D = dict(window_size=WINDOW)
OVERRIDES = dict(dim=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1, heads=[1, 2, 2, 4])
REDUCED = dict(OVERRIDES, window_size=WINDOW)
INPUT = (2, 3, 32, 48)


def patch_mask(shape):
    """`extra_inputs` giving a fixed visibility mask for inputs of `shape`, half of each image's
    patches visible (as ``Mask*.mask`` draws it)."""
    b, _, h, w = shape

    def make(g: torch.Generator) -> dict:
        n = (h // WINDOW) * (w // WINDOW)
        order = torch.rand(b, n, generator=g).argsort(dim=1)
        mask = torch.zeros(b, n, dtype=torch.bool).scatter_(1, order[:, : n // 2], True)
        return {"mask": mask.view(b, 1, h // WINDOW, w // WINDOW)}

    return make


class _Stop(Exception):
    """Raised by the hook on the last captured module: nothing after it (the kNN tail) runs."""


def under_mask(*modules: str):
    """`run` for a Mask* net: its forward under ``inputs["mask"]``, returning the outputs of
    `modules` (full-resolution B x C x H x W maps) concatenated on the channels."""

    def run(model, inputs):
        model.mask = lambda *args, **kwargs: inputs["mask"]
        captured = []

        def keep(module, args, output):
            captured.append(output)
            if len(captured) == len(modules):
                raise _Stop

        handles = [getattr(model, name).register_forward_hook(keep) for name in modules]
        try:
            model(inputs["input"])
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return torch.cat(captured, 1)

    return run


CAPTURED = ("decoder_level1", "refinement")
MASKED_INPUT = (1, 3, 32, 48)

SPECS = [
    Spec(
        name="restormer-5d",
        release="dcpt",
        module="restormer_arch",
        cls="Restormer",
        full=FIVE_D,
        reduced=REDUCED,
        preset="restormer-5d",
        overrides=OVERRIDES,
        input_shape=INPUT,
        store_state=False,
    ),
    Spec(
        name="restormer-maskdcpt-5d",
        release="maskdcpt",
        module="restormer_arch",
        cls="Restormer",
        full=FIVE_D,
        reduced=REDUCED,
        preset="restormer-maskdcpt-5d",
        overrides=OVERRIDES,
        input_shape=INPUT,
        store_state=False,
    ),
    Spec(
        name="restormer-maskdcpt-5d-masked",
        release="maskdcpt",
        module="mask_restormer_arch",
        cls="MaskRestormer",
        full=FIVE_D,
        reduced=REDUCED,
        preset="restormer-maskdcpt-5d",
        overrides=OVERRIDES,
        input_shape=MASKED_INPUT,
        extra_inputs=patch_mask(MASKED_INPUT),
        run=under_mask(*CAPTURED),
        meta=dict(captured=CAPTURED),
        store_state=False,
        notes="output: the captured modules' outputs under inputs.mask (B x 1 x H/8 x W/8, True = visible), "
        "concatenated on the channels, taken before the kNN tail",
    ),
]
