import numpy as np
import pytest
import torch
from PIL import Image

from dcpt.cli import main
from dcpt.data.io import read_image, read_image_with_depth, to_numpy, write_image
from dcpt.models import create_model
from dcpt.models.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(create_model("nafnet-tiny"), tmp_path / "tiny.safetensors")


@pytest.fixture
def inputs(tmp_path, images):
    folder = tmp_path / "in"
    write_image(folder / "a.png", images[0, :, :37, :45])
    write_image(folder / "b.jpg", images[1])
    write_image(folder / "deep.png", images[2, :, :21, :30], bit_depth=16)
    return folder


def expected_8bit(ckpt, path):
    net = load_checkpoint(ckpt).eval()
    with torch.inference_mode():
        return to_numpy(net(read_image(path)[None])[0].clamp(0, 1), 8)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error:") and "\n" not in err, err
    return err


def test_restores_a_folder_with_same_names_and_bit_depths(tmp_path, ckpt, inputs, capsys):
    out = tmp_path / "out"
    assert (
        main(["restore", str(inputs), "-o", str(out), "--ckpt", str(ckpt), "--device", "cpu", "--quiet"]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "deep.png"]
    assert read_image_with_depth(out / "deep.png")[1] == 16
    assert read_image_with_depth(out / "a.png")[1] == 8
    written = np.asarray(Image.open(out / "a.png"))
    assert written.shape == (37, 45, 3)
    assert np.abs(written.astype(int) - expected_8bit(ckpt, inputs / "a.png").astype(int)).max() <= 1


def test_tiled_restore_is_close_to_whole_image_and_forced_16_bit(tmp_path, ckpt, inputs):
    out = tmp_path / "tiled"
    code = main(
        [
            "restore",
            str(inputs / "b.jpg"),
            "-o",
            str(out),
            "--ckpt",
            str(ckpt),
            "--tile",
            "32",
            "--overlap",
            "16",
            "--bit-depth",
            "16",
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert code == 0
    tiled, depth = read_image_with_depth(out / "b.png")
    assert depth == 16
    whole = expected_8bit(ckpt, inputs / "b.jpg").astype(np.float64)
    mse = np.mean((to_numpy(tiled, 8).astype(np.float64) - whole) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) > 25


def test_tlc_option_runs_on_nafnet(tmp_path, ckpt, inputs):
    out = tmp_path / "tlc"
    assert (
        main(["restore", str(inputs / "a.png"), "-o", str(out), "--ckpt", str(ckpt), "--tlc", "--quiet"]) == 0
    )
    assert (out / "a.png").is_file()


@pytest.mark.parametrize("case", ["missing_ckpt", "corrupt_ckpt", "missing_input", "bad_image"])
def test_user_errors_are_one_line_and_exit_2(tmp_path, ckpt, inputs, capsys, case):
    args = {"ckpt": str(ckpt), "input": str(inputs / "a.png")}
    if case == "missing_ckpt":
        args["ckpt"] = str(tmp_path / "nope.safetensors")
    elif case == "corrupt_ckpt":
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(ckpt.read_bytes()[:200])
        args["ckpt"] = str(bad)
    elif case == "missing_input":
        args["input"] = str(tmp_path / "absent.png")
    else:
        fake = tmp_path / "fake.png"
        fake.write_text("not an image")
        args["input"] = str(fake)
    code = main(["restore", args["input"], "-o", str(tmp_path / "o"), "--ckpt", args["ckpt"], "--quiet"])
    assert code == 2
    one_error_line(capsys)
