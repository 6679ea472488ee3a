"""PromptIR: upstream names/shapes/count (the class defaults), the releases' presets without the
unused convs, prompt block vs a direct formula (masked too), any-size contract, config inference.

The presets' exact release key lists and outputs are checked in test_release_restormer.py."""

import re

import pytest
import torch
import torch.nn.functional as F

from dcpt.models import create_model
from dcpt.models.promptir import PromptGenBlock

UNUSED_LAYERS = (
    "chnl_reduce1",
    "chnl_reduce2",
    "chnl_reduce3",
    "reduce_noise_channel_1",
    "reduce_noise_channel_2",
    "reduce_noise_channel_3",
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
# Written down from va1shn9v/PromptIR net/model.py (dim 48, decoder=True, bias False).
UPSTREAM_PATTERNS = (
    {"patch_embed.proj.weight", "output.weight", "reduce_chan_level3.weight", "reduce_chan_level2.weight"}
    | {f"{r}.body.#.weight" for r in ("down1_2", "down2_3", "down3_4", "up4_3", "up3_2", "up2_1")}
    | {f"{s}.#.{k}" for s in STAGES for k in BLOCK_KEYS}
    | {f"noise_level{i}.{k}" for i in (1, 2, 3) for k in BLOCK_KEYS}
    | {f"reduce_noise_level{i}.weight" for i in (1, 2, 3)}
    | {
        f"prompt{i}.{k}"
        for i in (1, 2, 3)
        for k in ("prompt_param", "linear_layer.weight", "linear_layer.bias", "conv3x3.weight")
    }
    | {f"chnl_reduce{i}.weight" for i in (1, 2, 3)}
    | {f"reduce_noise_channel_{i}.weight" for i in (1, 2, 3)}
)
UPSTREAM_SHAPES = {
    "prompt1.prompt_param": (1, 5, 64, 64, 64),
    "prompt2.prompt_param": (1, 5, 128, 32, 32),
    "prompt3.prompt_param": (1, 5, 320, 16, 16),
    "prompt1.linear_layer.weight": (5, 96),
    "prompt3.linear_layer.weight": (5, 384),
    "prompt2.conv3x3.weight": (128, 128, 3, 3),
    "noise_level3.attn.qkv.weight": (2112, 704, 1, 1),
    "noise_level3.attn.temperature": (4, 1, 1),
    "noise_level2.norm1.body.weight": (320,),
    "noise_level1.ffn.project_in.weight": (850, 160, 1, 1),
    "reduce_noise_level3.weight": (192, 704, 1, 1),
    "reduce_noise_level2.weight": (192, 320, 1, 1),
    "reduce_noise_level1.weight": (96, 160, 1, 1),
    "up4_3.body.0.weight": (384, 192, 3, 3),
    "reduce_chan_level3.weight": (192, 288, 1, 1),
    "chnl_reduce3.weight": (256, 320, 1, 1),
    "reduce_noise_channel_1.weight": (48, 112, 1, 1),
    "reduce_noise_channel_3.weight": (192, 448, 1, 1),
}


def block_params(dim, heads):
    """Parameters of one upstream TransformerBlock (shared with Restormer), bias=False."""
    hidden = int(dim * 2.66)
    return (
        4 * dim + heads + 3 * dim * dim + 27 * dim + dim * dim + 2 * hidden * dim + 18 * hidden + hidden * dim
    )


def upstream_count(d=48, prompts=(64, 128, 320), sizes=(64, 32, 16), length=5):
    """Parameters of upstream PromptIR(decoder=True), counted from its definition."""
    p1, p2, p3 = prompts
    total = 3 * d * 9 + 2 * d * 3 * 9
    total += (
        4 * block_params(d, 1)
        + 6 * block_params(2 * d, 2)
        + 6 * block_params(4 * d, 4)
        + 8 * block_params(8 * d, 8)
    )
    total += 6 * block_params(4 * d, 4) + 6 * block_params(2 * d, 2) + 8 * block_params(2 * d, 1)
    total += block_params(8 * d + p3, 4) + block_params(4 * d + p2, 4) + block_params(2 * d + p1, 4)
    total += d * (d // 2) * 9 + 2 * d * d * 9 + 4 * d * 2 * d * 9  # downsamplers
    total += 4 * d * 8 * d * 9 * 2 + 2 * d * 4 * d * 9  # upsamplers
    total += 6 * d * 4 * d + 4 * d * 2 * d  # reduce_chan_level3/2
    total += (8 * d + p3) * 4 * d + (4 * d + p2) * 4 * d + (2 * d + p1) * 2 * d  # reduce_noise_level3/2/1
    for p, s, lin in zip(prompts, sizes, (2 * d, 4 * d, 8 * d)):
        total += length * p * s * s + lin * length + length + p * p * 9
    return total + p1 * p1 + p2 * p2 + p3 * 256 + (d + p1) * d + (2 * d + p2) * 2 * d + (4 * d + 256) * 4 * d


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("promptir-tiny").eval()


def test_class_defaults_are_upstream_names_shapes_and_count():
    with torch.device("meta"):
        net = create_model("promptir")
    state = net.state_dict()
    assert {re.sub(r"\.\d+\.", ".#.", k) for k in state} == UPSTREAM_PATTERNS
    for key, shape in UPSTREAM_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in net.parameters()) == upstream_count() == 35_592_263


def test_dcpt_preset_is_upstream_without_the_unused_convs():
    with torch.device("meta"):
        upstream = create_model("promptir").state_dict()
        dcpt = create_model("promptir-5d").state_dict()
    unused = {k for k in upstream if k.split(".")[0] in UNUSED_LAYERS}
    assert len(unused) == 6
    assert {k: v.shape for k, v in dcpt.items()} == {
        k: v.shape for k, v in upstream.items() if k not in unused
    }


def test_maskdcpt_preset_has_bias_everywhere_the_release_has():
    with torch.device("meta"):
        net = create_model("promptir-maskdcpt-5d")
    state = net.state_dict()
    assert net.arch_config["bias"] and net.arch_config["key_layout"] == "maskdcpt"
    for key in (
        "output.bias",
        "reduce_chan_level3.bias",
        "reduce_noise_level1.bias",
        "noise_level2.attn.qkv_dwconv.bias",
        "latent.blocks.7.ffn.project_out.bias",
    ):
        assert key in state, key
    for key in ("patch_embed.proj.bias", "down1_2.conv.bias", "prompt1.conv3x3.bias"):
        assert key not in state, key


def test_prompt_block_is_a_softmax_weighted_mix_of_resized_prompts():
    torch.manual_seed(0)
    block = PromptGenBlock(prompt_dim=4, prompt_len=3, prompt_size=5, lin_dim=6)
    x = torch.randn(2, 6, 7, 9)
    expected = []
    for b in range(2):
        weights = torch.softmax(block.linear_layer.weight @ x[b].mean((1, 2)) + block.linear_layer.bias, 0)
        mix = sum(weights[i] * block.prompt_param[0, i] for i in range(3))
        resized = F.interpolate(mix[None], size=(7, 9), mode="bilinear", align_corners=False)
        expected.append(block.conv3x3(resized)[0])
    torch.testing.assert_close(block(x), torch.stack(expected))
    mask = (torch.rand(2, 1, 7, 9) > 0.5).float()
    unmasked_mix = F.interpolate(
        torch.einsum(
            "bl,lchw->bchw", torch.softmax(block.linear_layer(x.mean((2, 3))), 1), block.prompt_param[0]
        ),
        size=(7, 9),
        mode="bilinear",
    )
    torch.testing.assert_close(block(x, mask), block.conv3x3(unmasked_mix * mask) * mask)


def test_features_are_prompted_decoder_levels(tiny):
    feats = tiny.features(torch.rand(1, 3, 37, 53))
    assert [f.shape[1] for f in feats] == list(tiny.feature_channels) == [32, 32, 64]
    assert [tuple(f.shape[-2:]) for f in feats] == [(37, 53), (19, 27), (10, 14)]
