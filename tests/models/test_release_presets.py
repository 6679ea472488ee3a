"""Every release preset against the release's own code, from the committed fixtures alone.

One test per fixture file: a preset's state dict has exactly the release model's key names and
shapes (so a released ``.pth`` loads strictly), and on the fixture's reduced configuration our net,
holding the release's seeded state, computes the release's output. Masked passes and family details
are in test_release_{nafnet,restormer,swinir}.py.
"""

import pytest
import torch
from release_fixtures import (
    FIXTURES,
    keys_fixture,
    our_keys_and_shapes,
    reduced_fixture,
    reduced_net,
)

from dcpt.models import create_model

KEY_LISTS = sorted(p.name[: -len(".keys.json")] for p in FIXTURES.glob("*.keys.json"))
PLAIN = [n for n in KEY_LISTS if "-masked" not in n]
RELEASE_PRESETS = {
    "nafnet-5d",
    "restormer-5d",
    "swinir-5d",
    "promptir-5d",
    "nafnet-maskdcpt-5d",
    "restormer-maskdcpt-5d",
    "swinir-maskdcpt-5d",
    "promptir-maskdcpt-5d",
}


def test_every_release_preset_has_fixtures_recorded_from_its_release():
    assert set(PLAIN) == RELEASE_PRESETS
    for name in PLAIN:
        fixture = keys_fixture(name)
        expected = "MILab-PKU/MaskDCPT@" if "maskdcpt" in name else "MILab-PKU/dcpt@"
        assert fixture["release"].startswith(expected) and fixture["preset"] == name


@pytest.mark.parametrize("name", KEY_LISTS)
def test_preset_has_exactly_the_release_keys_and_shapes(name):
    fixture = keys_fixture(name)
    assert len(dict(fixture["keys"])) == len(fixture["keys"])
    assert our_keys_and_shapes(fixture["preset"]) == dict(fixture["keys"])
    if "window_size" in fixture["full"]:
        with torch.device("meta"):
            assert create_model(fixture["preset"]).mask_patch_size == fixture["full"]["window_size"]


@pytest.mark.parametrize("name", PLAIN)
def test_reduced_release_state_loads_strictly_and_computes_the_release_output(name):
    header, state, inputs, output = reduced_fixture(name)
    net = reduced_net(header, state)
    if "window_size" in header["reduced"]:  # the release's mask patch (MaskDCPT) and padding multiple
        assert net.mask_patch_size == header["reduced"]["window_size"]
    with torch.no_grad():
        torch.testing.assert_close(net(inputs["input"]), output.to(inputs["input"].dtype), atol=1e-4, rtol=0)
