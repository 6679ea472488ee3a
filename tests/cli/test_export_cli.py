"""`dcpt export` and `dcpt restore --engine`: user mistakes are one line and exit code 2, before any
export runs. The exports themselves are tested in tests/infer/test_onnx.py (slow)."""

import sys

import pytest
import torch

from dcpt.cli import main
from dcpt.data.io import write_image
from dcpt.models import create_model
from dcpt.models.checkpoint import save_checkpoint


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(create_model("nafnet-tiny"), tmp_path / "tiny.safetensors")


@pytest.fixture
def photo(tmp_path, images):
    return write_image(tmp_path / "in" / "a.png", images[0, :, :21, :30])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error:") and "\n" not in err, err
    return err


def test_help_lists_examples(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "dcpt export --onnx nafnet.onnx --checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize(
    "target, message",
    [
        ("model.safetensors", "ending in .onnx"),
        ("folder.onnx/", "is a folder"),
        ("exists.onnx", "exists; pass --overwrite"),
    ],
)
def test_bad_outputs_are_refused_before_export(tmp_path, ckpt, capsys, target, message):
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "exists.onnx").write_bytes(b"keep me")
    assert main(["export", "--onnx", str(tmp_path / target), "--checkpoint", str(ckpt)]) == 2
    assert message in one_error_line(capsys)
    assert (tmp_path / "exists.onnx").read_bytes() == b"keep me"


def test_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    args = ["export", "--onnx", str(tmp_path / "m.onnx"), "--checkpoint", str(tmp_path / "none.safetensors")]
    assert main(args) == 2
    assert "no such checkpoint" in one_error_line(capsys)
    assert not (tmp_path / "m.onnx").exists()


def test_missing_onnx_packages_name_the_extra(tmp_path, ckpt, photo, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    out = tmp_path / "out"
    assert main(["restore", str(photo), "-o", str(out), "--engine", "onnx", "--ckpt", "m.onnx"]) == 2
    assert 'pip install "dcpt[onnx]"' in one_error_line(capsys)
    assert main(["export", "--onnx", str(tmp_path / "m.onnx"), "--checkpoint", str(ckpt)]) == 2
    assert 'pip install "dcpt[onnx]"' in one_error_line(capsys)


@pytest.mark.parametrize(
    "engine, extra, message",
    [
        ("torch", ["--ckpt", "model.onnx"], "runs with --engine onnx"),
        ("onnx", ["--ckpt", "model.onnx", "--tlc"], "apply to the torch engine"),
        ("onnx", ["--ckpt", "missing.onnx"], "no such ONNX file"),
    ],
)
def test_restore_engine_mistakes_are_one_line(tmp_path, photo, capsys, engine, extra, message):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "out"
    assert main(["restore", str(photo), "-o", str(out), "--engine", engine, *extra, "--quiet"]) == 2
    assert message in one_error_line(capsys)
