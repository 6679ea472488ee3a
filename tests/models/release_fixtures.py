"""Readers of the committed release fixtures (tests/fixtures/releases/), shared by test_release_*.py.

The fixtures were recorded by running the DCPT and MaskDCPT releases' own architecture code outside
this repository (scripts/make_release_fixtures.py): per model, the full key / shape list and, for a
reduced configuration, an input (a mask too, for the masked nets) and the release's output on a
seeded state. The state itself is stored, or, where it is too large to commit, its key order, from
which `seeded_state` remakes the harness's draw exactly.
"""

import json
from pathlib import Path

import torch
from safetensors import safe_open

from dcpt.models import create_model

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "releases"


def keys_fixture(name):
    return json.loads((FIXTURES / f"{name}.keys.json").read_text())


def seeded_state(keys):
    """The harness's `randomise` (seed 1) over the release's keys, in its state-dict order."""
    g = torch.Generator().manual_seed(1)
    return {
        k: torch.randn(shape, generator=g) * 0.1 + (1.0 if k.endswith("norm.weight") else 0.0)
        for k, shape in keys
    }


def reduced_fixture(name):
    """(header, release state, inputs, release output) of a reduced fixture; float inputs are cast to
    the dtype the release ran in (float64 where float32 round-off would exceed the tolerance)."""
    with safe_open(str(FIXTURES / f"{name}.reduced.safetensors"), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header = json.loads(metadata["dcpt_fixture"])
    if "state_keys" in metadata:
        state = seeded_state(json.loads(metadata["state_keys"]))
    else:
        state = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    dtype = getattr(torch, header.get("dtype", "float32"))
    inputs = {
        k[len("inputs.") :]: v.to(dtype) if v.is_floating_point() else v
        for k, v in tensors.items()
        if k.startswith("inputs.")
    }
    return header, state, inputs, tensors["output"]


def reduced_net(header, state):
    """Our preset at the fixture's reduced configuration, holding the release's state (strict load)."""
    net = create_model(header["preset"], **header["overrides"]).eval()
    net.load_state_dict(state, strict=True)
    return net.to(getattr(torch, header.get("dtype", "float32")))


def pixel_mask(patch_mask, patch):
    """The release's boolean patch-grid mask (B x 1 x h x w, True = visible) at pixel resolution."""
    return patch_mask.float().repeat_interleave(patch, 2).repeat_interleave(patch, 3)


def our_keys_and_shapes(preset):
    """{name: shape} of our preset's state dict, built on the meta device (no memory)."""
    with torch.device("meta"):
        net = create_model(preset)
    return {k: list(v.shape) for k, v in net.state_dict().items()}
