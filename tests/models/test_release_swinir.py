"""dcpt's SwinIR presets against the DCPT and MaskDCPT releases' own code.

The fixtures under tests/fixtures/releases/swinir-* were recorded by running the releases'
``swinir_arch.SwinIR`` and MaskDCPT's ``mask_swinir_arch.MaskSwinIR`` (scripts/make_release_fixtures.py,
specs in scripts/release_specs/swinir.py): the full key / shape list of each release model and, for
a reduced configuration, a seeded state, an input (a mask too) and the release's result. None of it
was written from dcpt's side, so these tests fail on any name, layout or arithmetic of our own.
"""

import pytest
import torch
from release_fixtures import (
    keys_fixture,
    pixel_mask,
    reduced_fixture,
    reduced_net,
)

from dcpt.models.import_basicsr import load_basicsr

PLAIN = ["swinir-5d", "swinir-maskdcpt-5d"]
MASKED = ["swinir-maskdcpt-5d-masked", "swinir-maskdcpt-5d-masked-output"]


@pytest.mark.parametrize("name", MASKED)
def test_masked_pass_through_all_is_the_release_mask_swinir(name):
    """-masked: the last residual group's output under the mask; -masked-output: the image output."""
    header, state, inputs, output = reduced_fixture(name)
    net = reduced_net(header, state)
    assert net.mask_patch_size == header["reduced"]["window_size"]
    mask = pixel_mask(inputs["mask"], net.mask_patch_size)
    with torch.no_grad():
        y, features = net.forward_masked(inputs["input"], mask, through="all")
    got = features[-1] if name.endswith("-masked") else y
    torch.testing.assert_close(got, output, atol=1e-4, rtol=0)
    if name.endswith("-masked"):
        assert (features[-1] * (1 - mask)).abs().max() == 0


def test_encoder_pass_is_not_the_release_mask_swinir():
    """The fixture tells the two masked passes apart (so the test above is not vacuous)."""
    header, state, inputs, output = reduced_fixture("swinir-maskdcpt-5d-masked")
    net = reduced_net(header, state)
    with torch.no_grad():
        _, features = net.forward_masked(
            inputs["input"], pixel_mask(inputs["mask"], net.mask_patch_size), through="encoder"
        )
    assert (features[-1] - output).abs().max() > 1e-2


@pytest.mark.parametrize("preset", PLAIN)
def test_release_pth_loads_through_load_basicsr(tmp_path, preset):
    """A full-size BasicSR file (``params_ema``, the release's names) loads into the preset as is."""
    keys = keys_fixture(preset)["keys"]
    state = {k: torch.full(shape, float(i)) for i, (k, shape) in enumerate(keys)}
    path = tmp_path / "release.pth"
    torch.save({"params_ema": state}, path)
    net = load_basicsr(path, preset)
    loaded = net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_reduced_release_pth_rebuilds_its_layout_from_the_family(tmp_path):
    header, state, inputs, _ = reduced_fixture("swinir-5d")
    path = tmp_path / "reduced.pth"
    torch.save({"params_ema": state}, path)
    net = load_basicsr(path, "swinir")
    assert net.arch_config["group_names"] == "encode_decode"
    assert net.arch_config["depths"] == tuple(header["reduced"]["depths"])
    assert not net.arch_config["relative_position_bias"]
