"""NAFNet: the three official parameter layouts, sizes, features, TLC (masked forwards: test_nafnet_masking.py).

The releases' own outputs are checked in test_release_nafnet.py; these tests check the properties."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nafnet_helpers import randomized

import dcpt
from dcpt.errors import ConfigError, DcptError
from dcpt.models import create_model
from dcpt.models.checkpoint import load_bundle
from dcpt.models.import_basicsr import infer_nafnet_config
from dcpt.models.layers import LayerNorm2d, LocalAvgPool2d
from dcpt.models.masking import random_patch_mask
from dcpt.models.nafnet import NAMINGS, NAFBlock, local_pooling

BLOCK_KEYS = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "conv3.weight",
    "conv3.bias",
    "sca.1.weight",
    "sca.1.bias",
    "conv4.weight",
    "conv4.bias",
    "conv5.weight",
    "conv5.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
    "beta",
    "gamma",
]


def official_keys(enc, middle, dec, naming="megvii"):
    """Parameter names of megvii-research/NAFNet's NAFNet_arch.py (``megvii``), of the DCPT
    release's NAFNetBaseline (``dcpt``: decoder stages ``decoder{i}``) and of the MaskDCPT release's
    (``maskdcpt``: every stage's blocks under ``blocks``), written out from their layouts."""
    blocks = ".blocks" if naming == "maskdcpt" else ""
    decoder = "decoders." if naming == "megvii" else "decoder"
    keys = {"intro.weight", "intro.bias", "ending.weight", "ending.bias"}
    for i, n in enumerate(enc):
        keys |= {f"encoders.{i}{blocks}.{j}.{k}" for j in range(n) for k in BLOCK_KEYS}
        keys |= {f"downs.{i}.weight", f"downs.{i}.bias"}
    keys |= {f"middle_blks{blocks}.{j}.{k}" for j in range(middle) for k in BLOCK_KEYS}
    for i, n in enumerate(dec):
        keys |= {f"{decoder}{i}{blocks}.{j}.{k}" for j in range(n) for k in BLOCK_KEYS}
        keys.add(f"ups.{i}.0.weight")
    return keys


def release_name(key, naming):
    """A megvii parameter name in another release's naming."""
    if naming != "megvii":
        key = re.sub(r"^decoders\.(\d+)\.", r"decoder\1.", key)
    if naming == "maskdcpt":
        key = re.sub(r"^(encoders\.\d+|middle_blks|decoder\d+)\.", r"\1.blocks.", key)
    return key


def official_param_count(width, enc, middle, dec, img=3):
    """Count from the official layer shapes (DW_Expand = FFN_Expand = 2)."""

    def block(c):
        conv1 = c * 2 * c + 2 * c
        conv2 = 2 * c * 9 + 2 * c
        conv3 = c * c + c
        sca = c * c + c
        conv4 = c * 2 * c + 2 * c
        conv5 = c * c + c
        return conv1 + conv2 + conv3 + sca + conv4 + conv5 + 4 * c + 2 * c

    total = (img * width * 9 + width) + (width * img * 9 + img)
    c = width
    for n in enc:
        total += n * block(c) + (c * 2 * c * 4 + 2 * c)
        c *= 2
    total += middle * block(c)
    for n in dec:
        total += c * 2 * c
        c //= 2
        total += n * block(c)
    return total


def test_nafnet_5d_matches_official_names_shapes_and_size():
    with torch.device("meta"):
        net = create_model("nafnet-5d")
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert set(shapes) == official_keys((1, 1, 1, 28), 1, (1, 1, 1, 1), naming="dcpt")
    assert shapes["intro.weight"] == (64, 3, 3, 3)
    assert shapes["ending.weight"] == (3, 64, 3, 3)
    assert shapes["downs.3.weight"] == (1024, 512, 2, 2)
    assert shapes["ups.0.0.weight"] == (2048, 1024, 1, 1)
    assert shapes["encoders.3.27.conv2.weight"] == (1024, 1, 3, 3)
    assert shapes["encoders.3.27.sca.1.weight"] == (512, 512, 1, 1)
    assert shapes["middle_blks.0.norm1.weight"] == (1024,)
    assert shapes["decoder3.0.beta"] == (1, 64, 1, 1)
    total = sum(p.numel() for p in net.parameters())
    assert total == official_param_count(64, (1, 1, 1, 28), 1, (1, 1, 1, 1)) == 67_888_835
    # NAFNet paper, Table (GoPro): width 32 -> 17.11 M, width 64 -> 67.89 M parameters
    with torch.device("meta"):
        w32 = create_model(
            "nafnet", width=32, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1)
        )
    assert round(sum(p.numel() for p in w32.parameters()) / 1e6, 2) == 17.11
    assert round(total / 1e6, 2) == 67.89
    assert net.feature_channels == (64, 128, 256, 512) and net.mask_patch_size == 16


@pytest.mark.parametrize("name", ["nafnet-tiny", "nafnet-small", "nafnet-w16-28"])
def test_presets_have_official_layout(name):
    with torch.device("meta"):
        net = create_model(name)
    cfg = net.arch_config
    assert net.naming == "megvii"  # the layout of the shipped demo checkpoints
    assert set(net.state_dict()) == official_keys(
        cfg["enc_blk_nums"], cfg["middle_blk_num"], cfg["dec_blk_nums"]
    )
    assert sum(p.numel() for p in net.parameters()) == official_param_count(
        cfg["width"], cfg["enc_blk_nums"], cfg["middle_blk_num"], cfg["dec_blk_nums"]
    )


@pytest.mark.parametrize("naming", NAMINGS)
def test_each_naming_has_its_release_layout_and_computes_the_same_function(naming):
    config = dict(width=8, enc_blk_nums=(1, 2), middle_blk_num=1, dec_blk_nums=(2, 1))
    reference = randomized(create_model("nafnet", **config)).eval()
    net = create_model("nafnet", naming=naming, **config).eval()
    assert set(net.state_dict()) == official_keys((1, 2), 1, (2, 1), naming=naming)
    assert [len(stage) for stage in net.decoder_stages] == [2, 1]
    net.load_state_dict({release_name(k, naming): v for k, v in reference.state_dict().items()}, strict=True)
    x = torch.rand(1, 3, 20, 28)
    mask = random_patch_mask(1, 20, 28, 4, 0.5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(net(x), reference(x))
        for through in ("all", "encoder"):
            assert torch.equal(
                net.forward_masked(x, mask, through=through)[0],
                reference.forward_masked(x, mask, through=through)[0],
            )
    inferred = infer_nafnet_config(net.state_dict())
    assert inferred == dict(
        img_channel=3,
        width=8,
        middle_blk_num=1,
        enc_blk_nums=(1, 2),
        dec_blk_nums=(2, 1),
        naming=naming,
        norm_eps=1e-5 if naming == "maskdcpt" else 1e-6,
    )


def test_bad_naming_patch_and_through_are_clear_errors():
    with pytest.raises(ConfigError, match="naming: expected one of megvii, dcpt, maskdcpt"):
        create_model("nafnet-tiny", naming="basicsr")
    with pytest.raises(ConfigError, match="mask_patch_size must be a multiple of 2 \\*\\* levels = 16"):
        create_model("nafnet-tiny", mask_patch_size=8)
    net = create_model("nafnet-tiny")
    with pytest.raises(DcptError, match="through must be one of all, encoder"):
        net.forward_masked(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16), through="decoder")


@pytest.mark.parametrize(
    "path",
    sorted((Path(dcpt.__file__).parent / "assets" / "demo").glob("*.safetensors")),
    ids=lambda p: p.name,
)
def test_shipped_demo_checkpoints_still_load(path):
    bundle = load_bundle(path)
    assert bundle.net.naming == "megvii" and "naming" not in bundle.meta["arch_config"]
    with torch.no_grad():
        assert torch.isfinite(bundle.net.eval()(torch.rand(1, 3, 16, 16))).all()


def test_mismatched_stage_counts_are_a_config_error():
    with pytest.raises(ConfigError, match="as many decoder as encoder stages"):
        create_model("nafnet", enc_blk_nums=(1, 1), dec_blk_nums=(1,))


def test_layernorm2d_matches_torch_layer_norm_per_pixel():
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(2, 6, 5, 7)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref, rtol=1e-5, atol=1e-5)


def test_fresh_block_is_identity_and_global_residual_holds():
    block = NAFBlock(8)
    x = torch.randn(1, 8, 6, 6)
    assert torch.equal(block(x), x)
    net = create_model("nafnet-tiny")
    with torch.no_grad():
        net.ending.weight.zero_()
        net.ending.bias.zero_()
    x = torch.rand(1, 3, 21, 30)
    assert torch.equal(net(x), x)


def test_odd_size_equals_reflect_padded_run_cropped():
    net = randomized(create_model("nafnet-tiny")).eval()
    x = torch.rand(1, 3, 37, 53)
    padded = F.pad(x, (0, 11, 0, 11), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(padded)[:, :, :37, :53])


@pytest.mark.parametrize("naming", ["megvii", "dcpt"])
def test_features_are_decoder_outputs_full_resolution_first(naming):
    net = randomized(create_model("nafnet-tiny", naming=naming)).eval()
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in net.decoder_stages]
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        feats = net.features(x)
    for h in hooks:
        h.remove()
    assert [tuple(f.shape) for f in feats] == [
        (1, 16, 32, 48),
        (1, 32, 16, 24),
        (1, 64, 8, 12),
        (1, 128, 4, 6),
    ]
    # what the official DCPT hooks on the decoder stages collect, reversed (hook_outputs[::-1])
    for f, hooked in zip(feats, seen[::-1]):
        assert torch.equal(f, hooked)


def test_local_avg_pool_matches_brute_force_windows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 7, 9)).astype(np.float32)
    out = LocalAvgPool2d((3, 4))(torch.from_numpy(x)).numpy()
    assert out.shape == x.shape
    valid = np.array([[x[0, :, i : i + 3, j : j + 4].mean(axis=(1, 2)) for j in range(6)] for i in range(5)])
    np.testing.assert_allclose(out[0, :, 1:6, 1:7], valid.transpose(2, 0, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[0, :, 0, 1:7], out[0, :, 1, 1:7])  # replicated border (top)
    whole = LocalAvgPool2d((8, 9))(torch.from_numpy(x)).numpy()  # window covers the map: global mean
    np.testing.assert_allclose(whole, x.mean(axis=(2, 3), keepdims=True), rtol=1e-5)


def test_local_pooling_kernels_and_equivalence_at_training_size():
    net = randomized(create_model("nafnet-tiny")).eval()
    x_train, x_big = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        before = net(x_train), net(x_big)
        local_pooling(net, train_size=32)
        after = net(x_train), net(x_big)
    # official TLC kernels: 1.5 x the training crop at each scale
    assert net.encoders[0][0].sca[0].kernel == (48, 48)
    assert net.middle_blks[0].sca[0].kernel == (3, 3)
    assert net.decoder_stages[0][0].sca[0].kernel == (6, 6)
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[1], before[1])
    assert {k for k, _ in net.named_parameters()} == official_keys((1, 1, 1, 2), 1, (1, 1, 1, 1))
