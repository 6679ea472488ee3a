"""dcpt's NAFNet presets against the DCPT and MaskDCPT releases' own code.

The fixtures under tests/fixtures/releases/ were recorded by running the releases' architecture files
(scripts/make_release_fixtures.py, specs in scripts/release_specs/nafnet.py): the full key / shape
list of each release model and, for a reduced configuration, a seeded state, an input and the
release's output. Nothing here was written from dcpt's side, so these tests fail on any naming,
layout or arithmetic that is ours rather than the release's.
"""

import pytest
import torch
from release_fixtures import (
    keys_fixture,
    reduced_fixture,
    reduced_net,
)

from dcpt.models import create_model
from dcpt.models.checkpoint import load_checkpoint

PLAIN = ["nafnet-5d", "nafnet-maskdcpt-5d"]
ALL = PLAIN + ["nafnet-maskdcpt-5d-masked"]


def release_net(name):
    """(our net holding the fixture's release state, inputs, release output)."""
    header, state, inputs, output = reduced_fixture(name)
    return reduced_net(header, state), inputs, output


def test_maskdcpt_norm_is_nn_layer_norm_with_its_default_eps():
    """The MaskDCPT release's LayerNorm2d is `nn.LayerNorm(c)` over channels (eps 1e-5), DCPT's uses
    1e-6. Random fixtures cannot see eps (their per-pixel variance is large), so it is checked where
    it matters: on nearly flat pixels."""
    with torch.device("meta"):
        mask_net, dcpt_net = create_model("nafnet-maskdcpt-5d"), create_model("nafnet-5d")
    assert {m.eps for m in mask_net.modules() if hasattr(m, "eps")} == {1e-5}
    assert {m.eps for m in dcpt_net.modules() if hasattr(m, "eps")} == {1e-6}
    net, _, _ = release_net("nafnet-maskdcpt-5d")
    norm = net.encoders[0][0].norm1
    reference = torch.nn.LayerNorm(norm.weight.numel())
    reference.load_state_dict(norm.state_dict())
    x = 0.5 + 1e-3 * torch.randn(1, norm.weight.numel(), 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        torch.testing.assert_close(norm(x), expected, rtol=0, atol=1e-5)
        norm.eps = 1e-6
        assert not torch.allclose(norm(x), expected, rtol=0, atol=1e-2)


def test_masked_forward_through_all_is_the_release_mask_nafnet():
    net, inputs, output = release_net("nafnet-maskdcpt-5d-masked")
    grid = inputs["mask"]  # B x 1 x H/p x W/p, True = visible
    p = net.mask_patch_size
    mask = grid.repeat_interleave(p, 2).repeat_interleave(p, 3).float()
    x = inputs["input"]
    with torch.no_grad():
        y, feats = net.forward_masked(x, mask, through="all")
        assert net.forward_masked(x, mask)[1][0].equal(feats[0])  # "all" is the default
    torch.testing.assert_close(feats[0], output, rtol=0, atol=1e-4)
    torch.testing.assert_close(y, net.ending(feats[0]) + x * mask, rtol=0, atol=1e-6)
    with torch.no_grad():
        sparse = net.forward_masked(x, mask, through="encoder")[1][0]
    assert not torch.allclose(sparse, output, rtol=0, atol=1e-3)  # dcpt's own variant is not the release


@pytest.mark.parametrize("name", PLAIN)
def test_release_format_pth_loads_through_the_public_loader(tmp_path, name):
    header, state, inputs, output = reduced_fixture(name)
    path = tmp_path / "net_g_latest.pth"
    torch.save({"params_ema": state}, path)
    net = load_checkpoint(path, arch="nafnet")  # the family: configuration and naming read from the keys
    assert net.arch_config["naming"] == {"nafnet-5d": "dcpt", "nafnet-maskdcpt-5d": "maskdcpt"}[name]
    assert tuple(net.arch_config["enc_blk_nums"]) == tuple(header["overrides"]["enc_blk_nums"])
    assert tuple(net.arch_config["dec_blk_nums"]) == tuple(header["overrides"]["dec_blk_nums"])
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(inputs["input"]), output, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", PLAIN)
def test_full_size_release_pth_loads_with_its_preset(tmp_path, name):
    """A full-size release `.pth` (here: its key list with zero tensors) loads with `--arch <preset>`."""
    state = {k: torch.zeros(shape) for k, shape in keys_fixture(name)["keys"]}
    path = tmp_path / "release.pth"
    torch.save({"params_ema": state}, path)
    net = load_checkpoint(path, arch=name)
    assert net.preset_name == name and set(net.state_dict()) == set(state)
