"""The web app's logic without a browser: the Restore button's function on the shipped checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dcpt
from dcpt.app.core import EXAMPLES, Session, make_examples, to_tensor, to_uint8
from dcpt.app.ui import build_app, piqe_text, respond
from dcpt.cli import main
from dcpt.data import load_samples
from dcpt.errors import DataError, DcptError
from dcpt.metrics import piqe


@pytest.fixture(scope="module")
def session():
    return Session(device="cpu")


@pytest.fixture(scope="module")
def noisy():
    """A 320 x 240 crop of the held-out `chelsea` photograph with strong Gaussian noise, as Gradio hands
    it over."""
    img = dict(load_samples("test"))["chelsea"][:, 30:270, 60:380]
    lq = dcpt.degrade.apply("gaussian_noise", img[None], [50.0], generator=torch.Generator().manual_seed(0))
    return to_uint8(lq[0])


def test_button_names_the_noise_and_restores_at_the_input_size(session, noisy, tmp_path):
    probabilities, (before, after), summary, download = respond(session, noisy, folder=tmp_path)
    assert set(probabilities) == set(session.class_names)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert max(probabilities, key=probabilities.__getitem__) == "gaussian_noise"
    assert before.shape == after.shape == noisy.shape and after.dtype == np.uint8
    assert np.array_equal(before, noisy)
    with Image.open(download) as saved:
        assert saved.size == (noisy.shape[1], noisy.shape[0])
        assert np.array_equal(np.asarray(saved.convert("RGB")), after)
    assert "Restored whole, 320 x 240 pixels" in summary
    assert Path(download).parent.parent == tmp_path and Path(download).name == "restored.png"


def test_piqe_before_and_after(session, noisy):
    result = session(noisy)
    expected = float(piqe(to_tensor(noisy)[None])[0])
    assert result.piqe_before == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(result.piqe_after)
    assert f"input {result.piqe_before:.2f}" in piqe_text(result)


def test_big_images_are_restored_in_tiles_with_progress(session, noisy):
    tiled = Session(session.checkpoint, device="cpu", tile=128)
    steps = []
    result = tiled(noisy, progress=lambda done, total: steps.append((done, total)))
    assert result.tiles > 1 and steps[-1] == (result.tiles, result.tiles)
    assert [done for done, _ in steps] == list(range(1, result.tiles + 1))
    assert result.restored.shape == noisy.shape
    assert result.probabilities == pytest.approx(session(noisy).probabilities)


def test_small_images_are_restored_whole(session):
    assert session.tiles_for(512, 512) is None
    assert session.tiles_for(513, 512) == session.tiles_for(4000, 3000) == 512


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3), (20, 30, 4)])
def test_to_tensor_accepts_grey_rgb_and_rgba(shape):
    arr = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    img = to_tensor(arr)
    assert img.shape == (3, 20, 30) and img.dtype == torch.float32
    assert np.array_equal(to_uint8(img)[..., 0], arr if arr.ndim == 2 else arr[..., 0])


def test_to_tensor_refuses_other_shapes():
    with pytest.raises(DataError, match=r"expected an H x W x 3 image, got an array of shape \(4, 5, 2\)"):
        to_tensor(np.zeros((4, 5, 2), np.uint8))


def test_no_photo_is_one_message(session):
    with pytest.raises(DcptError, match="upload a photo"):
        respond(session, None)


def test_examples_are_degraded_test_photographs_written_once(tmp_path):
    paths = make_examples(tmp_path)
    assert [p.name for p in paths] == [f"{n}_{op}_{lv:g}.png" for n, op, lv in EXAMPLES]
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert make_examples(tmp_path) == paths and [p.stat().st_mtime_ns for p in paths] == stamps


def test_missing_gradio_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["app", "--port", "7999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error: dcpt app needs Gradio: pip install 'dcpt[app]'") and "\n" not in err


def test_bad_port_is_one_line(capsys):
    assert main(["app", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_the_page_builds(session, tmp_path):
    pytest.importorskip("gradio", reason="the app extra (gradio) is not installed")
    app = build_app(session, tmp_path)
    assert app.examples_dir == tmp_path and len(list(tmp_path.glob("*.png"))) == len(EXAMPLES)


def test_a_checkpoint_without_classifier_restores_and_names_nothing(session, noisy, tmp_path):
    from dcpt.models.checkpoint import save_checkpoint

    path = save_checkpoint(session.net, tmp_path / "finetuned.safetensors")
    result = Session(path, device="cpu")(noisy)
    assert result.probabilities == {} and result.label is None
    assert np.array_equal(result.restored, session(noisy).restored)
