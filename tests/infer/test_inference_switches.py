"""The inference switches of `dcpt restore` (`dcpt.infer.speed`) are honoured and keep fp32 results."""

import argparse

import pytest
import torch

from dcpt.cli.restore import add_speed_options, speed_options
from dcpt.errors import DcptError
from dcpt.infer.restore import load_restorer
from dcpt.infer.speed import InferenceOptions, prepare
from dcpt.infer.tiling import restore_tiled
from dcpt.models import create_model
from dcpt.models.checkpoint import save_checkpoint


def seeded(name="nafnet-tiny"):
    """A net whose residual scales are non-zero (a fresh NAFNet is the identity)."""
    torch.manual_seed(0)
    net = create_model(name).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net


def image(h=48, w=64):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))


def capture(net):
    """Record the layout and autocast state of the input reaching `net`."""
    seen = {}

    def hook(_module, args):
        seen["channels_last"] = args[0].is_contiguous(memory_format=torch.channels_last)
        seen["autocast"] = torch.is_autocast_enabled("cpu")

    net.register_forward_pre_hook(hook)
    return seen


@pytest.mark.parametrize("name", ["nafnet-tiny", "restormer-tiny", "swinir-tiny"])
def test_channels_last_output_equals_plain_output(name):
    net = seeded(name)
    img = image()
    with torch.inference_mode():
        plain = net(img)
    fast = prepare(net, InferenceOptions(channels_last=True))
    seen = capture(fast.net)
    out = restore_tiled(fast, img, tile=None)
    assert seen["channels_last"] and not seen["autocast"]
    assert out.is_contiguous() and out.dtype == torch.float32
    torch.testing.assert_close(out, plain, rtol=0, atol=1e-5)


def test_tiled_batched_channels_last_equals_plain_tiled():
    net = seeded()
    img = image(80, 96)
    plain = restore_tiled(prepare(net, InferenceOptions(channels_last=False)), img, tile=48, overlap=16)
    fast = restore_tiled(prepare(net, InferenceOptions()), img, tile=48, overlap=16, batch=4)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)


def test_bf16_autocast_is_on_and_stays_close():
    net = seeded()
    img = image()
    with torch.inference_mode():
        plain = net(img)
    fast = prepare(net, InferenceOptions(channels_last=False, bf16=True))
    seen = capture(fast.net)
    out = restore_tiled(fast, img, tile=None)
    assert seen["autocast"] and not seen["channels_last"]
    assert out.dtype == torch.float32
    diff = (out - plain).abs().max().item()
    assert 0 < diff < 0.1  # rounded (bf16 has 8 mantissa bits), yet the same restoration


@pytest.mark.slow  # importing torch._dynamo alone takes seconds
def test_compile_switch_wraps_the_net_and_keeps_grid_attributes():
    net = seeded()
    fast = prepare(net, InferenceOptions(compile=True))
    assert type(fast._run).__name__ == "OptimizedModule"
    assert fast.padder_size == net.padder_size


def test_cli_flags_map_to_options():
    parser = argparse.ArgumentParser()
    add_speed_options(parser)
    assert speed_options(parser.parse_args([])) == InferenceOptions(channels_last=True)
    got = speed_options(parser.parse_args(["--no-channels-last", "--bf16", "--compile"]))
    assert got == InferenceOptions(channels_last=False, bf16=True, compile=True)


def test_load_restorer_applies_options_and_onnx_refuses_bf16(tmp_path):
    ckpt = save_checkpoint(seeded(), tmp_path / "tiny.safetensors")
    run = load_restorer(ckpt, options=InferenceOptions(channels_last=False, bf16=True))
    assert run.options.bf16 and not run.options.channels_last
    with pytest.raises(DcptError, match="--bf16"):
        load_restorer(tmp_path / "x.onnx", engine="onnx", options=InferenceOptions(bf16=True))
