"""The front door `import dcpt`: each public name against an independent reference.

References: a second instance's own output (weights loaded through `checkpoint=` must reproduce it
exactly), `fnmatch` over the full preset list, PSNR of a known MSE written out analytically,
scikit-image's SSIM, the identity (a net that returns its input), the degradation actually applied
(the shipped demo classifier must name it) and the stdlib's `typing.get_type_hints`.
"""

import fnmatch
import importlib
import inspect
import json
import math
import subprocess
import sys
import typing

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from torch import nn

import dcpt
from dcpt.data import load_samples, write_image
from dcpt.errors import CheckpointError, DcptError
from dcpt.models import PRESETS
from dcpt.models.checkpoint import save_checkpoint

SHIPPED = dcpt.__file__.replace("__init__.py", "assets/demo/nafnet-tiny-dcpt.safetensors")
SMALL_5D = dict(width=8, enc_blk_nums=(1, 1, 1, 1), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


def seeded(name, seed, **overrides):
    torch.manual_seed(seed)
    return dcpt.create_model(name, **overrides).eval()


@pytest.fixture(scope="module")
def coffee():
    """A 96 x 128 crop of an embedded test photograph, ``3 x H x W`` in [0, 1]."""
    images = dict(load_samples("test"))
    return images["coffee"][:, 120:216, 200:328].contiguous()


def test_import_is_lazy_and_light():
    code = "import dcpt, sys; print(sorted(m for m in ('torch', 'numpy', 'typing') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    assert dcpt.__all__ == sorted(dcpt.__all__)
    for name in dcpt.__all__:
        assert getattr(dcpt, name) is not None
        assert name in dir(dcpt)
    assert dcpt.degrade.apply is importlib.import_module("dcpt.degrade").apply
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dcpt.nope  # noqa: B018


@pytest.mark.parametrize(
    "fn",
    [
        "create_model",
        "list_models",
        "load_model",
        "load_bundle",
        "restore",
        "classify",
        "psnr",
        "ssim",
        "piqe",
        "niqe",
    ],
)
def test_public_functions_are_fully_typed(fn):
    func = getattr(dcpt, fn)
    hints = typing.get_type_hints(func)
    params = [p for p in inspect.signature(func).parameters if p != "overrides"]
    assert set(params) | {"return"} <= set(hints), f"{fn} lacks annotations"


def test_degrade_apply_is_fully_typed():
    hints = typing.get_type_hints(dcpt.degrade.apply)
    assert set(inspect.signature(dcpt.degrade.apply).parameters) | {"return"} == set(hints)
    assert hints["return"] is torch.Tensor


@pytest.mark.parametrize("layout", ["plain", "params_ema", "module_prefix"])
def test_create_model_loads_a_pth_of_another_instance_exactly(tmp_path, layout):
    source = seeded("nafnet-5d", 0, **SMALL_5D)
    state = source.state_dict()
    if layout == "params_ema":
        state = {"params_ema": state}
    elif layout == "module_prefix":
        state = {f"module.{k}": v for k, v in state.items()}
    torch.save(state, tmp_path / "net.pth")
    x = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(1))
    fresh = seeded("nafnet-5d", 1, **SMALL_5D)
    assert not torch.equal(fresh(x), source(x))  # different seeds: the check below is not vacuous
    loaded = dcpt.create_model("nafnet-5d", checkpoint=tmp_path / "net.pth", **SMALL_5D).eval()
    assert torch.equal(loaded(x), source(x))
    assert loaded.preset_name == "nafnet-5d" and loaded.arch_config["naming"] == "dcpt"


def test_create_model_loads_a_dcpt_checkpoint_and_drops_none_overrides(tmp_path):
    source = seeded("nafnet-tiny", 0)
    path = save_checkpoint(source, tmp_path / "tiny.safetensors")
    loaded = dcpt.create_model("nafnet-tiny", checkpoint=str(path), width=None).eval()
    x = torch.rand(2, 3, 32, 48)
    assert torch.equal(loaded(x), source(x))
    assert loaded.arch_config["width"] == 16  # the preset's value survived width=None


def test_create_model_refuses_weights_that_do_not_fit(tmp_path):
    path = save_checkpoint(seeded("nafnet-tiny", 0), tmp_path / "tiny.safetensors")
    with pytest.raises(CheckpointError, match="holds a nafnet network, not restormer"):
        dcpt.create_model("restormer-tiny", checkpoint=path)
    with pytest.raises(CheckpointError, match="does not fit"):
        dcpt.create_model("nafnet-tiny", checkpoint=path, width=8)
    with pytest.raises(DcptError, match="unknown model 'nafnet-tinyy'. Did you mean nafnet-tiny"):
        dcpt.create_model("nafnet-tinyy")


def test_list_models_is_an_fnmatch_over_the_presets():
    everything = dcpt.list_models()
    assert everything == sorted(everything) and len(everything) == len(set(everything))
    swinir = dcpt.list_models("*swinir*")
    assert swinir and swinir == fnmatch.filter(everything, "*swinir*")
    assert all("swinir" in name for name in swinir)
    assert dcpt.list_models("no-such-*") == []
    assert "nafnet" not in everything  # families are accepted by create_model but not listed
    assert dcpt.create_model("nafnet", width=8).arch_name == "nafnet"
    assert set(everything) == set(PRESETS.names())


def test_load_model_rebuilds_from_the_file_alone(tmp_path):
    source = seeded("nafnet-small", 0)
    path = save_checkpoint(source, tmp_path / "small.safetensors")
    net = dcpt.load_model(path)
    assert not net.training
    assert net.arch_config == json.loads(json.dumps(source.arch_config))  # tuples come back as lists
    x = torch.rand(1, 3, 40, 40)
    assert torch.equal(net(x), source(x))
    torch.save(source.state_dict(), tmp_path / "small.pth")
    with pytest.raises(CheckpointError, match=r"does not record its architecture: use dcpt.create_model"):
        dcpt.load_model(tmp_path / "small.pth")


def test_load_bundle_gives_the_classifier_and_class_names():
    bundle = dcpt.load_bundle(SHIPPED)
    assert isinstance(bundle, dcpt.Bundle)
    assert bundle.class_names == ["gaussian_noise", "rain", "haze", "gaussian_blur", "low_light"]
    assert bundle.classifier is not None and not bundle.classifier.training and not bundle.net.training
    assert bundle.meta["preset"] == "nafnet-tiny"


def test_psnr_of_a_known_mse_and_one_return_type():
    g = torch.Generator().manual_seed(0)
    clean = 0.2 + 0.6 * torch.rand(3, 3, 16, 20, generator=g, dtype=torch.float64)
    deltas = torch.tensor([0.01, 0.05, 0.2], dtype=torch.float64)
    signs = torch.randint(0, 2, clean.shape, generator=g).to(torch.float64) * 2 - 1
    noisy = clean + signs * deltas.view(3, 1, 1, 1)  # every pixel off by exactly +-delta: MSE = delta^2
    expected = torch.tensor([10 * math.log10(1 / d**2) for d in deltas.tolist()], dtype=torch.float64)
    batch = dcpt.psnr(noisy, clean)
    assert isinstance(batch, torch.Tensor) and batch.shape == (3,) and batch.dtype == torch.float64
    assert torch.allclose(batch, expected, atol=1e-9)
    single = dcpt.psnr(noisy[1], clean[1])
    assert isinstance(single, torch.Tensor) and single.shape == (1,)
    assert single.item() == pytest.approx(expected[1].item(), abs=1e-9)
    array = np.full((8, 8, 3), 100, dtype=np.uint8)
    from_numpy = dcpt.psnr(array, array + 5)  # 0-255 scale: MSE = 25
    assert isinstance(from_numpy, torch.Tensor) and from_numpy.shape == (1,)
    assert from_numpy.item() == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)


def test_ssim_agrees_with_scikit_image(coffee):
    noisy = (coffee + 0.08 * torch.randn(coffee.shape, generator=torch.Generator().manual_seed(3))).clamp(
        0, 1
    )
    ours = dcpt.ssim(noisy, coffee)
    assert isinstance(ours, torch.Tensor) and ours.shape == (1,)
    reference = structural_similarity(
        noisy.permute(1, 2, 0).double().numpy() * 255,
        coffee.permute(1, 2, 0).double().numpy() * 255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    assert ours.item() == pytest.approx(reference, abs=1e-6)
    assert torch.allclose(
        dcpt.ssim(coffee[None].expand(2, -1, -1, -1), coffee[None].expand(2, -1, -1, -1)),
        torch.ones(2, dtype=torch.float64),
    )


class Identity(nn.Module):
    """A 1 x 1 convolution initialised to the identity, on a 16-pixel grid like NAFNet."""

    padder_size = 16

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("tile", [None, 32])
def test_restore_of_an_identity_returns_the_input(coffee, tile, tmp_path):
    odd = coffee[:, :77, :101]
    out = dcpt.restore(Identity(), odd, tile=tile, overlap=8)
    assert out.shape == odd.shape and out.dtype == torch.float32
    assert torch.allclose(out, odd, atol=1e-6)
    batch = dcpt.restore(Identity(), odd[None].repeat(2, 1, 1, 1), tile=tile, overlap=8)
    assert batch.shape == (2, *odd.shape)
    path = write_image(tmp_path / "odd.png", odd)
    from_file = dcpt.restore(Identity(), path, tile=tile, overlap=8)
    assert from_file.shape == odd.shape
    assert torch.allclose(from_file, (odd * 255).round() / 255, atol=1e-6)


def test_restore_whole_image_is_the_clamped_net_output(coffee):
    net = seeded("nafnet-tiny", 0)
    img = coffee[:, :45, :61]
    assert torch.equal(dcpt.restore(net, img), net(img[None])[0].clamp(0, 1).detach())
    with pytest.raises(
        DcptError, match=r"expected a 3 x H x W or B x 3 x H x W tensor, got shape \(45, 61\)"
    ):
        dcpt.restore(net, img[0])


@pytest.mark.parametrize(("degradation", "level"), [("gaussian_noise", 30.0), ("rain", 0.8), ("haze", 2.0)])
def test_classify_names_the_applied_degradation(degradation, level):
    test_images = dict(load_samples("test"))
    crop = test_images["coffee"][:, 100:356, 100:356]
    lq = dcpt.degrade.apply(degradation, crop, level, generator=torch.Generator().manual_seed(0))
    result = dcpt.classify(SHIPPED, lq)
    assert isinstance(result, dcpt.Classification)
    assert result.label == degradation
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.confidence == max(result.probabilities.values()) > 0.5


def test_classify_needs_a_classifier_and_one_image(tmp_path, coffee):
    path = save_checkpoint(seeded("nafnet-tiny", 0), tmp_path / "finetuned.safetensors")
    with pytest.raises(CheckpointError, match="has no degradation classifier"):
        dcpt.classify(path, coffee)
    with pytest.raises(DcptError, match="classify names one image; got a batch of 2"):
        dcpt.classify(dcpt.load_bundle(SHIPPED), coffee[None].repeat(2, 1, 1, 1))


@pytest.mark.parametrize(
    "call",
    [
        lambda p: dcpt.create_model("nafnet-tiny", checkpoint=p),
        lambda p: dcpt.load_model(p),
        lambda p: dcpt.load_bundle(p),
        lambda p: dcpt.classify(p, torch.rand(3, 32, 32)),
    ],
)
def test_a_missing_checkpoint_is_one_line_dcpt_error(tmp_path, call):
    with pytest.raises(DcptError) as info:
        call(tmp_path / "missing.safetensors")
    message = str(info.value)
    assert "missing.safetensors" in message and "does not exist" in message and "\n" not in message
