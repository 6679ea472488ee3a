"""ONNX export: every architecture matches PyTorch under onnxruntime on sizes that are not multiples
of its padding, and `dcpt restore --engine onnx` writes what the torch engine writes.

Exports take 30 s to a few minutes each on two busy cores, so everything that exports is slow; the
exported files are shared by the tests of this module.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dcpt
from dcpt.cli import main
from dcpt.data.io import write_image
from dcpt.errors import CheckpointError
from dcpt.models import create_model
from dcpt.models.checkpoint import load_checkpoint

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
if not hasattr(getattr(torch.export, "Dim", None), "DYNAMIC"):
    pytest.skip("ONNX export needs torch >= 2.6", allow_module_level=True)

from dcpt.infer.onnx_engine import OnnxRestorer  # noqa: E402
from dcpt.infer.onnx_export import export_onnx, pad_multiple  # noqa: E402

SHIPPED = Path(dcpt.__file__).parent / "assets" / "demo" / "nafnet-tiny-maskdcpt.safetensors"
PRESETS = ("nafnet-tiny", "restormer-tiny", "swinir-tiny", "promptir-tiny")
SIZES = ((1, 37, 53), (2, 64, 48))
"""Batch, height, width: neither size is a multiple of 16 (NAFNet) and 37 x 53 of 8 (windows, Restormer)."""
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory):
    """The shipped checkpoint exported through the command line (which checks parity itself)."""
    path = tmp_path_factory.mktemp("shipped") / "nafnet-tiny-maskdcpt.onnx"
    assert main(["export", "--onnx", str(path), "--checkpoint", str(SHIPPED)]) == 0
    return load_checkpoint(SHIPPED).eval(), path


@pytest.fixture(scope="module", params=PRESETS)
def preset_onnx(request, tmp_path_factory):
    torch.manual_seed(0)
    net = create_model(request.param).eval()
    return net, export_onnx(net, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx")


def max_abs_errors(net, path, sizes=SIZES):
    restorer = OnnxRestorer(path, device="cpu")
    errors = []
    for batch, height, width in sizes:
        image = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(height))
        with torch.inference_mode():
            expected = net(image)
        got = restorer(image)
        assert got.shape == expected.shape
        errors.append(float((got - expected).abs().max()))
    return errors


@pytest.mark.slow
def test_every_architecture_matches_pytorch_on_two_sizes(preset_onnx):
    net, path = preset_onnx
    errors = max_abs_errors(net, path)
    print(f"{path.stem}: max abs error {max(errors):.2e}")
    assert max(errors) <= TOLERANCE


@pytest.mark.slow
def test_the_shipped_checkpoint_matches_pytorch_including_images_below_its_multiple(shipped_onnx):
    net, path = shipped_onnx
    # 5 x 7 is below the 16-pixel multiple: the engine replicate-pads as the net does
    errors = max_abs_errors(net, path, SIZES + ((1, 5, 7),))
    print(f"shipped {path.stem}: max abs error {max(errors):.2e}")
    assert max(errors) <= TOLERANCE
    restorer = OnnxRestorer(path)
    assert (restorer.arch_name, restorer.pad_multiple, restorer.padder_size) == ("nafnet", 16, 16)
    assert pad_multiple(net) == 16


@pytest.mark.slow
@pytest.mark.parametrize("tile", [None, 32])
def test_restore_through_both_engines_writes_the_same_image(tmp_path, shipped_onnx, images, tile):
    _, onnx_path = shipped_onnx
    source = tmp_path / "in" / "photo.png"
    write_image(source, images[0, :, :45, :61])
    outputs = []
    for engine, ckpt in (("torch", SHIPPED), ("onnx", onnx_path)):
        out = tmp_path / engine
        tiling = [] if tile is None else ["--tile", str(tile), "--overlap", "16"]
        args = ["restore", str(source), "-o", str(out), "--engine", engine, "--ckpt", str(ckpt)]
        assert main([*args, *tiling, "--device", "cpu", "--quiet"]) == 0
        outputs.append(np.asarray(Image.open(out / "photo.png")).astype(int))
    assert outputs[0].shape == (45, 61, 3)
    assert np.abs(outputs[0] - outputs[1]).max() <= 1


def test_a_damaged_onnx_file_is_one_line(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf\n" * 10)
    with pytest.raises(CheckpointError, match="not a readable ONNX model") as info:
        OnnxRestorer(path)
    assert "\n" not in str(info.value)
