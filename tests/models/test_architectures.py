"""The restoration-net contract, checked for every registered preset (timm's test_models habit).

Presets under 2 M parameters run the full behavioural checks on a 37 x 53 input; larger ones are
built on the meta device (no memory, no arithmetic) and checked for their declared contract only.
"""

import json

import pytest
import torch

from dcpt.models import PRESETS, build_arch, create_model, list_models
from dcpt.models.classifier import DegradationClassifier
from dcpt.models.import_basicsr import CONFIG_INFERERS
from dcpt.models.masking import random_patch_mask

SMALL_PARAMS = 2_000_000


def _params_on_meta(name):
    with torch.device("meta"):
        return sum(p.numel() for p in create_model(name).parameters())


ALL = sorted(list_models())
SMALL = [n for n in ALL if _params_on_meta(n) < SMALL_PARAMS]
H, W = 37, 53


def small_net(name):
    torch.manual_seed(0)
    net = create_model(name)
    with torch.no_grad():  # zero-initialised residual scales would hide broken paths
        for p in net.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.1)
    return net


def test_every_family_has_a_small_preset():
    families = {PRESETS.get(n).arch for n in ALL}
    assert families <= {PRESETS.get(n).arch for n in SMALL}
    assert {"nafnet-5d", "nafnet-tiny", "nafnet-small", "nafnet-w16-28"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_declared_contract_and_rebuild_from_recorded_config(name):
    with torch.device("meta"):
        net = create_model(name)
        rebuilt = build_arch(net.arch_name, **json.loads(json.dumps(net.arch_config)))
    assert net.preset_name == name and net.arch_name == PRESETS.get(name).arch
    assert isinstance(net.feature_channels, tuple) and net.feature_channels
    assert all(isinstance(c, int) and c > 0 for c in net.feature_channels)
    assert isinstance(net.mask_patch_size, int) and net.mask_patch_size >= 1
    for method in ("features", "forward_masked"):
        assert callable(getattr(net, method))
    # a checkpoint header (JSON) is enough to rebuild the same parameter layout
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()
    }


@pytest.mark.parametrize("name", ALL)
def test_config_is_inferred_from_the_state_dict_alone(name):
    """A release `.pth` carries no config: its keys and shapes must give back the preset's options
    (except the masking patch, which no weight shows; loading a `.pth` by preset name supplies it)."""
    with torch.device("meta"):
        net = create_model(name)
    config = CONFIG_INFERERS[net.arch_name](net.state_dict())
    shown = {k: v for k, v in net.arch_config.items() if k != "mask_patch_size"}
    assert {k: config[k] for k in shown} == shown


@pytest.mark.parametrize("name", SMALL)
def test_odd_size_comes_back_at_its_size(name):
    net = small_net(name).eval()
    x = torch.rand(2, 3, H, W)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", SMALL)
def test_features_match_declared_widths_full_resolution_first(name):
    net = small_net(name).eval()
    with torch.no_grad():
        feats = net.features(torch.rand(1, 3, H, W))
    assert len(feats) == len(net.feature_channels)
    assert tuple(f.shape[1] for f in feats) == net.feature_channels
    assert feats[0].shape[-2] >= H and feats[0].shape[-1] >= W
    for a, b in zip(feats, feats[1:]):
        assert b.shape[-2] <= a.shape[-2] and b.shape[-1] <= a.shape[-1]
    assert all(torch.isfinite(f).all() for f in feats)


@pytest.mark.parametrize("name", SMALL)
def test_gradients_reach_every_parameter(name):
    net = small_net(name).train()
    x = torch.rand(1, 3, H, W)
    loss = net(x).sum() + sum(f.sum() for f in net.features(x))
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", SMALL)
def test_masked_forward_and_classifier_on_its_features(name):
    net = small_net(name).train()
    x = torch.rand(2, 3, H, W)
    mask = random_patch_mask(2, H, W, net.mask_patch_size, 0.5, generator=torch.Generator().manual_seed(0))
    y, feats = net.forward_masked(x, mask)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert tuple(f.shape[1] for f in feats) == net.feature_channels
    clf = DegradationClassifier(net.feature_channels, num_classes=3, blocks_per_scale=1, expansion=0.5)
    logits = clf(feats)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert net.feature_channels and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()
    )
