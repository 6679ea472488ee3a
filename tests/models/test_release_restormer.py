"""dcpt's Restormer and PromptIR presets against the DCPT and MaskDCPT releases' own code.

One file for both families (PromptIR is Restormer's trunk with prompts; the checks are the same).
The fixtures under tests/fixtures/releases/{restormer,promptir}-* were recorded by running the
releases' ``restormer_arch.Restormer`` / ``promptir_arch.PromptIR`` and MaskDCPT's
``mask_restormer_arch.MaskRestormer`` / ``mask_promptir_arch.MaskPromptIR``
(scripts/make_release_fixtures.py, specs in scripts/release_specs/{restormer,promptir}.py): the full
key / shape list of each release model and, for a reduced configuration, an input (a mask too) and
the release's result on the seeded state, whose key order is recorded so that `seeded_state`
remakes it (too large to commit). None of it was written from dcpt's side, so these tests fail on
any name, layout or arithmetic of our own.
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

PLAIN = ["restormer-5d", "restormer-maskdcpt-5d", "promptir-5d", "promptir-maskdcpt-5d"]
MASKED = ["restormer-maskdcpt-5d-masked", "promptir-maskdcpt-5d-masked"]


def masked_pass(net, inputs, through):
    """Our masked pass, returning what the release recorded: the outputs of `decoder_level1` (our
    first feature) and, where captured, of `refinement` (read by a hook: the pass does not return it)."""
    seen = {}
    handle = net.refinement.register_forward_hook(lambda m, args, out: seen.update(refinement=out))
    try:
        with torch.no_grad():
            _, features = net.forward_masked(inputs["input"], pixel_mask(inputs["mask"], 8), through=through)
    finally:
        handle.remove()
    return {"decoder_level1": features[0], **seen}


@pytest.mark.parametrize("name", MASKED)
def test_masked_pass_through_all_is_the_release_mask_net(name):
    header, state, inputs, output = reduced_fixture(name)
    net = reduced_net(header, state)
    assert net.mask_patch_size == header["reduced"]["window_size"] == 8
    ours = masked_pass(net, inputs, "all")
    recorded = output.split(net.feature_channels[0], dim=1)
    assert len(recorded) == len(header["captured"])
    for module, expected in zip(header["captured"], recorded):
        torch.testing.assert_close(ours[module], expected, atol=1e-4, rtol=0, msg=module)


def test_bias_free_release_net_is_zero_at_masked_positions():
    header, state, inputs, _ = reduced_fixture("restormer-maskdcpt-5d-masked")
    ours = masked_pass(reduced_net(header, state), inputs, "all")
    hidden = 1 - pixel_mask(inputs["mask"], 8)
    assert all((t * hidden).abs().max() == 0 for t in ours.values())


@pytest.mark.parametrize("name", MASKED)
def test_encoder_pass_is_not_the_release_mask_net(name):
    """The fixture tells the two masked passes apart (so the test above is not vacuous)."""
    header, state, inputs, output = reduced_fixture(name)
    ours = masked_pass(reduced_net(header, state), inputs, "encoder")
    assert (ours["decoder_level1"] - output[:, : ours["decoder_level1"].shape[1]]).abs().max() > 1e-2


@pytest.mark.parametrize("preset", PLAIN)
def test_release_pth_loads_through_load_basicsr(tmp_path, preset):
    """A full-size BasicSR file (``params_ema``, the release's names) loads into the preset as is.
    Each tensor is one value broadcast to its shape, so the file stays a few kilobytes."""
    keys = keys_fixture(preset)["keys"]
    state = {k: torch.tensor(float(i)).expand(shape) for i, (k, shape) in enumerate(keys)}
    path = tmp_path / "release.pth"
    torch.save({"params_ema": state}, path)
    loaded = load_basicsr(path, preset).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


@pytest.mark.parametrize(
    "name, family",
    [
        ("restormer-5d", "restormer"),
        ("restormer-maskdcpt-5d", "restormer"),
        ("promptir-5d", "promptir"),
        ("promptir-maskdcpt-5d", "promptir"),
    ],
)
def test_reduced_release_pth_rebuilds_from_the_family_alone(tmp_path, name, family):
    """The family's config inferer reads layout, norms and bias from the names: same output."""
    header, state, inputs, output = reduced_fixture(name)
    path = tmp_path / "reduced.pth"
    torch.save({"params_ema": state}, path)
    net = load_basicsr(path, family).eval().to(output.dtype)
    with torch.no_grad():
        torch.testing.assert_close(net(inputs["input"]), output, atol=1e-4, rtol=0)
