"""Restormer: upstream names/shapes/count (the class defaults), the options the releases' presets
set (eps, ReLU attention, key layouts), any-size contract, config inference.

The presets' exact release key lists and outputs are checked in test_release_restormer.py."""

import re

import pytest
import torch
import torch.nn.functional as F

from dcpt.errors import DcptError
from dcpt.models import build_arch, create_model
from dcpt.models.transformer_blocks import MDTA, ChannelLayerNorm

STAGES = (
    "encoder_level1",
    "encoder_level2",
    "encoder_level3",
    "latent",
    "decoder_level3",
    "decoder_level2",
    "decoder_level1",
    "refinement",
)
BLOCK_KEYS = (
    "norm1.body.weight",
    "norm1.body.bias",
    "attn.temperature",
    "attn.qkv.weight",
    "attn.qkv_dwconv.weight",
    "attn.project_out.weight",
    "norm2.body.weight",
    "norm2.body.bias",
    "ffn.project_in.weight",
    "ffn.dwconv.weight",
    "ffn.project_out.weight",
)
# Written down from swz30/Restormer restormer_arch.py (dim 48, bias False, WithBias LayerNorm).
UPSTREAM_PATTERNS = (
    {"patch_embed.proj.weight", "reduce_chan_level3.weight", "reduce_chan_level2.weight", "output.weight"}
    | {f"{r}.body.#.weight" for r in ("down1_2", "down2_3", "down3_4", "up4_3", "up3_2", "up2_1")}
    | {f"{s}.#.{k}" for s in STAGES for k in BLOCK_KEYS}
)
UPSTREAM_SHAPES = {
    "patch_embed.proj.weight": (48, 3, 3, 3),
    "encoder_level1.0.attn.qkv.weight": (144, 48, 1, 1),
    "encoder_level1.0.attn.qkv_dwconv.weight": (144, 1, 3, 3),
    "encoder_level1.0.ffn.project_in.weight": (254, 48, 1, 1),
    "encoder_level1.0.ffn.project_out.weight": (48, 127, 1, 1),
    "latent.7.attn.temperature": (8, 1, 1),
    "latent.7.norm2.body.bias": (384,),
    "down1_2.body.0.weight": (24, 48, 3, 3),
    "up4_3.body.0.weight": (768, 384, 3, 3),
    "reduce_chan_level3.weight": (192, 384, 1, 1),
    "decoder_level1.3.ffn.project_in.weight": (510, 96, 1, 1),
    "refinement.3.attn.temperature": (1, 1, 1),
    "output.weight": (3, 96, 3, 3),
}


def block_params(dim, heads):
    """Parameters of one upstream TransformerBlock, counted from its definition (bias=False)."""
    hidden = int(dim * 2.66)
    return (
        4 * dim + heads + 3 * dim * dim + 27 * dim + dim * dim + 2 * hidden * dim + 18 * hidden + hidden * dim
    )


def upstream_count(dim=48, blocks=(4, 6, 6, 8), refine=4, heads=(1, 2, 4, 8)):
    total = 3 * dim * 9 + 2 * dim * 3 * 9  # patch embedding, output conv
    widths = (dim, 2 * dim, 4 * dim, 8 * dim)
    total += sum(n * block_params(w, h) for n, w, h in zip(blocks, widths, heads))  # encoder + latent
    total += blocks[2] * block_params(4 * dim, heads[2]) + blocks[1] * block_params(2 * dim, heads[1])
    total += (blocks[0] + refine) * block_params(2 * dim, heads[0])
    total += sum(w * (w // 2) * 9 for w in widths[:3]) + sum(w * 2 * w * 9 for w in widths[1:])  # resizers
    return total + 8 * dim * 4 * dim + 4 * dim * 2 * dim  # channel reductions


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("restormer-tiny").eval()


def test_class_defaults_are_upstream_names_shapes_and_count():
    """An old dcpt checkpoint records only the options it set, so the defaults must stay upstream's."""
    with torch.device("meta"):
        net = build_arch(
            "restormer", dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8)
        )
    state = net.state_dict()
    assert {re.sub(r"\.\d+\.", ".#.", k) for k in state} == UPSTREAM_PATTERNS
    for key, shape in UPSTREAM_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    count = sum(p.numel() for p in net.parameters())
    assert count == upstream_count() == 26_126_644


def test_dcpt_preset_is_bias_free_relu_and_wrapped_in_body():
    with torch.device("meta"):
        net = create_model("restormer-5d")
    assert {
        "layernorm_type": "BiasFree",
        "layernorm_eps": 1e-6,
        "attention": "relu",
        "key_layout": "dcpt-restormer",
    }.items() <= net.arch_config.items()
    assert "encoder_level1.body.3.norm1.body.weight" in net.state_dict()
    blocks_and_widths = ((4, 48), (6, 96), (6, 192), (8, 384), (6, 192), (6, 96), (4, 96), (4, 96))
    norm_biases = sum(2 * n * w for n, w in blocks_and_widths)  # two bias-free norms per block
    assert sum(p.numel() for p in net.parameters()) == upstream_count() - norm_biases == 26_111_668


def test_channel_layernorm_matches_formula_and_masks():
    x = torch.randn(2, 5, 3, 4)
    norm = ChannelLayerNorm(5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    mu = x.mean(1, keepdim=True)
    var = ((x - mu) ** 2).mean(1, keepdim=True)
    expected = (x - mu) / torch.sqrt(var + 1e-5) * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(norm(x), expected)
    bias_free = ChannelLayerNorm(5, bias=False, eps=1e-6)
    torch.testing.assert_close(bias_free(x), x / torch.sqrt(var + 1e-6))
    mask = (torch.rand(2, 1, 3, 4) > 0.5).float()
    torch.testing.assert_close(norm(x, mask), expected * mask)


@pytest.mark.parametrize("activation", ["softmax", "relu"])
def test_mdta_matches_per_head_loop(activation):
    torch.manual_seed(1)
    attn = MDTA(8, 2, bias=False, activation=activation)
    with torch.no_grad():
        attn.temperature.uniform_(0.5, 2.0)
    x = torch.randn(1, 8, 5, 6)
    mask = (torch.rand(1, 1, 5, 6) > 0.4).float()
    q, k, v = (attn.qkv_dwconv(attn.qkv(x)) * mask).flatten(2)[0].chunk(3, dim=0)
    heads = []
    for h in range(2):
        rows = slice(4 * h, 4 * h + 4)
        qh, kh = F.normalize(q[rows], dim=1), F.normalize(k[rows], dim=1)
        scores = qh @ kh.T * attn.temperature[h, 0, 0]
        weights = torch.softmax(scores, dim=1) if activation == "softmax" else scores.clamp_min(0)
        heads.append(weights @ v[rows])
    expected = attn.project_out(torch.cat(heads).view(1, 8, 5, 6))
    torch.testing.assert_close(attn(x, mask), expected)


def test_features_are_decoder_levels_full_resolution_first(tiny):
    feats = tiny.features(torch.rand(2, 3, 37, 53))
    assert [f.shape[1] for f in feats] == list(tiny.feature_channels) == [32, 32, 64]
    assert [tuple(f.shape[-2:]) for f in feats] == [(37, 53), (19, 27), (10, 14)]


def test_default_adds_no_mask_token_and_bad_input_is_a_dcpt_error(tiny):
    assert not hasattr(tiny, "mask_token")
    with pytest.raises(DcptError, match="mask"):
        tiny.forward_masked(torch.rand(1, 3, 16, 16), torch.ones(1, 16, 16))
    with pytest.raises(DcptError, match="through"):
        tiny.forward_masked(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16), through="decoder")
    with pytest.raises(DcptError, match="B x 3 x H x W"):
        tiny(torch.rand(3, 16, 16))
    with pytest.raises(DcptError, match="key_layout"):
        create_model("restormer-tiny", key_layout="basicsr")


def to_layout(key, layout):
    """An upstream key in another layout's spelling (written from the releases' arch files)."""
    stage = r"^(\w+_level\d|latent|refinement)\.(\d+)\."
    if layout == "dcpt-restormer":
        return re.sub(stage, r"\1.body.\2.", key)
    key = re.sub(stage, r"\1.blocks.\2.", key)
    key = re.sub(r"(norm\d)\.body\.", r"\1.", key)
    return re.sub(r"^((?:down|up)\d_\d)\.body\.0\.", r"\1.conv.", key)


@pytest.mark.parametrize("layout", ["dcpt-restormer", "maskdcpt"])
@pytest.mark.parametrize("preset", ["restormer-tiny", "promptir-tiny"])
def test_key_layouts_only_rename(preset, layout):
    torch.manual_seed(0)
    upstream = create_model(preset).eval()
    other = create_model(preset, key_layout=layout).eval()
    renamed = {to_layout(k, layout): v for k, v in upstream.state_dict().items()}
    other.load_state_dict(renamed, strict=True)
    x = torch.rand(1, 3, 16, 24)
    mask = torch.ones(1, 1, 16, 24)
    mask[..., :8, 8:16] = 0
    torch.testing.assert_close(other(x), upstream(x))
    for a, b in zip(other.forward_masked(x, mask)[1], upstream.forward_masked(x, mask)[1]):
        torch.testing.assert_close(a, b)
