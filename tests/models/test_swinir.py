"""SwinIR: upstream and release layouts (names, shapes, counts, same function), window attention vs a
naive loop, shifted-window masks, any-size contract, both masked passes, tolerant upstream loading.
Equality with the releases' own code: tests/models/test_release_swinir.py."""

import math
import re

import pytest
import torch

from dcpt.errors import DcptError
from dcpt.models import create_model
from dcpt.models.swinir import RGB_MEAN
from dcpt.models.swinir_blocks import (
    SwinTransformerBlock,
    WindowAttention,
    shifted_window_mask,
)

BLOCK_KEYS = (
    "norm1.weight",
    "norm1.bias",
    "attn.relative_position_bias_table",
    "attn.relative_position_index",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
)
# Written down from JingyunLiang/SwinIR network_swinir.py with upsampler='' (attn_mask aside).
UPSTREAM_PATTERNS = (
    {
        f"{m}.{p}"
        for m in ("conv_first", "conv_after_body", "conv_last", "layers.#.conv")
        for p in ("weight", "bias")
    }
    | {f"{m}.{p}" for m in ("patch_embed.norm", "norm") for p in ("weight", "bias")}
    | {f"layers.#.residual_group.blocks.#.{k}" for k in BLOCK_KEYS}
)
UPSTREAM_SHAPES = {
    "conv_first.weight": (180, 3, 3, 3),
    "layers.0.residual_group.blocks.0.attn.relative_position_bias_table": (225, 6),
    "layers.5.residual_group.blocks.5.attn.relative_position_index": (64, 64),
    "layers.2.residual_group.blocks.3.attn.qkv.weight": (540, 180),
    "layers.2.residual_group.blocks.3.mlp.fc1.weight": (360, 180),
    "layers.2.residual_group.blocks.3.mlp.fc2.weight": (180, 360),
    "layers.4.conv.weight": (180, 180, 3, 3),
    "conv_last.weight": (3, 180, 3, 3),
}


def upstream_count(dim=180, groups=6, depth=6, heads=6, window=8, mlp_ratio=2):
    """Parameters of upstream SwinIR (upsampler='', '1conv'), counted from its definition."""
    hidden = int(dim * mlp_ratio)
    block = (
        4 * dim
        + (2 * window - 1) ** 2 * heads
        + (dim * 3 * dim + 3 * dim)
        + (dim * dim + dim)
        + (dim * hidden + hidden)
        + (hidden * dim + dim)
    )
    conv = dim * dim * 9 + dim
    return (
        (3 * dim * 9 + dim) + 2 * dim + groups * (depth * block + conv) + 2 * dim + conv + (dim * 3 * 9 + 3)
    )


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("swinir-tiny").eval()


def test_family_defaults_match_upstream_names_shapes_and_count():
    with torch.device("meta"):
        net = create_model("swinir")
    state = net.state_dict()
    assert {re.sub(r"\.\d+\.", ".#.", k) for k in state} == UPSTREAM_PATTERNS
    for key, shape in UPSTREAM_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in net.parameters()) == upstream_count() == 11_504_163
    assert net.feature_channels == (180,) * 6 and net.mask_patch_size == 8


@pytest.mark.parametrize("preset", ["swinir-5d", "swinir-maskdcpt-5d"])
def test_5d_presets_use_the_release_layout(preset):
    """Both releases: encode_layers.0-2 then decode_layers0-2, no relative position tables."""
    with torch.device("meta"):
        net = create_model(preset)
    state = net.state_dict()
    groups = {
        re.match(r"(encode_layers\.\d+|decode_layers\d+)\.", k).group(1) for k in state if "_layers" in k
    }
    assert groups == {
        "encode_layers.0",
        "encode_layers.1",
        "encode_layers.2",
        "decode_layers0",
        "decode_layers1",
        "decode_layers2",
    }
    assert not any("relative_position" in k or k.startswith("layers.") for k in state)
    assert sum(p.numel() for p in net.parameters()) == upstream_count() - 36 * 225 * 6
    assert net.feature_channels == (180,) * 6 and net.mask_patch_size == 8


def test_both_layouts_are_one_network_run_in_the_same_order():
    torch.manual_seed(0)
    config = dict(depths=(2, 1, 1, 2), num_heads=(2,) * 4, relative_position_bias=False, shift_mask=False)
    layers = create_model("swinir-tiny", **config).eval()
    release = create_model("swinir-tiny", group_names="encode_decode", **config).eval()

    def release_name(key):
        m = re.match(r"layers\.(\d+)\.", key)
        if not m:
            return key
        i = int(m.group(1))
        return (f"encode_layers.{i}." if i < 2 else f"decode_layers{i - 2}.") + key[m.end() :]

    release.load_state_dict({release_name(k): v for k, v in layers.state_dict().items()}, strict=True)
    x = torch.rand(1, 3, 16, 24)
    torch.testing.assert_close(release(x), layers(x))


def test_release_layout_needs_an_even_number_of_groups():
    with pytest.raises(DcptError, match="even number"):
        create_model("swinir-tiny", depths=(2, 2, 2), num_heads=(2, 2, 2), group_names="encode_decode")


def test_window_attention_equals_naive_attention_on_one_window():
    torch.manual_seed(0)
    ws, dim, heads = 4, 12, 3
    attn = WindowAttention(dim, ws, heads)
    with torch.no_grad():
        attn.relative_position_bias_table.normal_()
    tokens = torch.randn(ws * ws, dim)
    q, k, v = (tokens @ attn.qkv.weight.T + attn.qkv.bias).chunk(3, dim=1)
    d = dim // heads
    out = torch.zeros(ws * ws, dim)
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        for i in range(ws * ws):
            logits = []
            for j in range(ws * ws):
                dy, dx = i // ws - j // ws, i % ws - j % ws
                bias = attn.relative_position_bias_table[(dy + ws - 1) * (2 * ws - 1) + dx + ws - 1, h]
                logits.append(q[i, cols] @ k[j, cols] / math.sqrt(d) + bias)
            out[i, cols] = torch.softmax(torch.stack(logits), 0) @ v[:, cols]
    expected = out @ attn.proj.weight.T + attn.proj.bias
    torch.testing.assert_close(attn(tokens.view(1, 1, ws * ws, dim))[0, 0], expected)


def test_shifted_window_mask_blocks_exactly_the_non_neighbours():
    height, width, ws, shift = 16, 24, 8, 4
    mask = shifted_window_mask(height, width, ws, shift)
    assert mask.shape == (height * width // ws**2, ws**2, ws**2)
    cols = width // ws
    for win in range(mask.shape[0]):
        for i in range(ws * ws):
            for j in range(ws * ws):
                # pixel of the rolled image -> its coordinates in the original image
                ri = (
                    ((win // cols) * ws + i // ws + shift) % height,
                    ((win % cols) * ws + i % ws + shift) % width,
                )
                rj = (
                    ((win // cols) * ws + j // ws + shift) % height,
                    ((win % cols) * ws + j % ws + shift) % width,
                )
                neighbours = abs(ri[0] - rj[0]) < ws and abs(ri[1] - rj[1]) < ws
                assert mask[win, i, j].item() == (0.0 if neighbours else -100.0)


@pytest.mark.parametrize("masked", [True, False])
def test_shifted_block_sees_across_the_wrap_only_without_mask(masked):
    torch.manual_seed(0)
    block = SwinTransformerBlock(8, 2, window_size=4, shift_size=2, mlp_ratio=2.0).eval()
    with torch.no_grad():
        for p in block.attn.parameters():
            p.normal_(std=0.3)
    x = torch.randn(1, 8, 8, 8)
    mask = shifted_window_mask(8, 8, 4, 2) if masked else None
    poked = x.clone()
    poked[0, 0, 0] += 5.0 * torch.randn(8)  # top-left pixel rolls into the bottom-right window
    delta = (block(poked, mask) - block(x, mask))[0, 6:, 6:].abs().max()  # reachable only across the wrap
    assert (delta == 0) if masked else (delta > 1e-2)


def test_features_one_per_group_at_full_resolution(tiny):
    feats = tiny.features(torch.rand(2, 3, 37, 53))
    assert len(feats) == 2 and tiny.feature_channels == (24, 24)
    assert all(tuple(f.shape) == (2, 24, 37, 53) for f in feats)


def test_identity_when_residual_is_zero(tiny):
    """Mean shift and img_range cancel: a zero last conv returns the input exactly."""
    net = create_model("swinir-tiny", img_range=255.0).eval()
    with torch.no_grad():
        net.conv_last.weight.zero_()
        net.conv_last.bias.zero_()
    x = torch.rand(1, 3, 9, 11)
    torch.testing.assert_close(net(x), x)


def test_upstream_state_dict_with_stored_masks_loads_strictly(tiny):
    state = dict(tiny.state_dict())
    state["layers.0.residual_group.blocks.1.attn_mask"] = shifted_window_mask(64, 64, 8, 4)
    other = create_model("swinir-tiny").eval()
    other.load_state_dict(state, strict=True)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(other(x), tiny(x))


@pytest.mark.parametrize("through", ["all", "encoder"])
def test_masked_content_reaches_neither_output_nor_features(tiny, through):
    x = torch.rand(2, 3, 21, 30)
    mask = torch.ones(2, 1, 21, 30)
    mask[0, :, 8:16, 8:16] = 0
    mask[1, :, :8, 16:] = 0
    y, feats = tiny.forward_masked(x, mask, through=through)
    y2, feats2 = tiny.forward_masked(torch.where(mask.bool(), x, torch.rand_like(x)), mask, through=through)
    torch.testing.assert_close(y2, y)
    for a, b in zip(feats, feats2):
        torch.testing.assert_close(a, b)
    zero_at_masked = all((f * (1 - mask)).abs().max() == 0 for f in feats)
    assert zero_at_masked == (through == "all")


def test_masked_all_is_unshifted_and_not_residual(tiny):
    """As MaskSwinIR: on an all-visible mask, "all" is the plain net on x + mean, minus its input."""
    x = torch.rand(1, 3, 16, 24)
    mean = torch.tensor(RGB_MEAN).view(1, 3, 1, 1)
    y, feats = tiny.forward_masked(x, torch.ones(1, 1, 16, 24), through="all")
    torch.testing.assert_close(y, tiny(x + mean) - (x + mean), atol=1e-5, rtol=0)
    for a, b in zip(feats, tiny.features(x + mean)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_masked_encoder_on_an_all_visible_mask_is_the_plain_net(tiny):
    x = torch.rand(1, 3, 13, 19)
    y, feats = tiny.forward_masked(x, torch.ones(1, 1, 13, 19), through="encoder")
    torch.testing.assert_close(y, tiny(x))
    for a, b in zip(feats, tiny.features(x)):
        torch.testing.assert_close(a, b)


def test_masked_pass_rejects_an_unknown_through(tiny):
    with pytest.raises(DcptError, match="through"):
        tiny.forward_masked(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8), through="decoder")


def test_meta_built_net_runs_after_loading_weights(tiny):
    with torch.device("meta"):
        net = create_model("swinir-tiny")
    net = net.to_empty(device="cpu").eval()
    net.load_state_dict(tiny.state_dict(), strict=True)
    x = torch.rand(1, 3, 12, 10)
    torch.testing.assert_close(net(x), tiny(x))
