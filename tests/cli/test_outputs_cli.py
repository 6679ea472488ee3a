"""Outputs never destroy inputs (issue 21): every writing command, through `dcpt.cli.main`.

Each refusal must end in exit code 2 with one line on stderr, before anything is written: the input
files are compared byte for byte afterwards, and nothing new may appear where a refused output was.
"""

import argparse
import re
from pathlib import Path
from typing import Dict, Set

import pytest
import torch

from dcpt.cli import build_parser, main
from dcpt.data.io import write_image
from dcpt.models import create_model
from dcpt.models.checkpoint import save_checkpoint


def snapshot(*roots: Path) -> Dict[str, bytes]:
    files = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files.update({str(p): p.read_bytes() for p in paths})
    return files


def command_options(command: str) -> Set[str]:
    """The option strings the parser of `dcpt COMMAND` accepts."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {opt for action in sub.choices[command]._actions for opt in action.option_strings}


def refused(capsys, *argv) -> str:
    """Run `dcpt argv...`; assert exit 2, one stderr line that names only options this command has;
    return that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("dcpt: error:") and "\n" not in err, err
    named = set(re.findall(r"(?<![\w/-])--[a-z][a-z-]*", err))
    assert named <= command_options(str(argv[0])), (named, err)
    return err


@pytest.fixture
def photos(tmp_path, images):
    folder = tmp_path / "photos"
    write_image(folder / "a.png", images[0])
    write_image(folder / "b.png", images[1, :, :20, :24])
    return folder


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(create_model("nafnet-tiny"), tmp_path / "tiny.safetensors")


def restore(photos, out, ckpt, *extra):
    return ["restore", photos, "-o", out, "--ckpt", ckpt, "--device", "cpu", "--quiet", *extra]


def test_restore_into_its_input_folder_is_refused(capsys, photos, ckpt):
    """`dcpt restore DIR -o DIR` exited 0 and replaced the user's photographs."""
    before = snapshot(photos)
    assert "is also an input" in refused(capsys, *restore(photos, photos, ckpt))
    assert snapshot(photos) == before


def test_restore_of_a_file_into_its_own_folder_is_refused(capsys, photos, ckpt):
    before = snapshot(photos)
    assert "would overwrite" in refused(capsys, *restore(photos / "a.png", photos, ckpt))
    assert snapshot(photos) == before


def test_restore_into_a_folder_of_another_kind_needs_overwrite(tmp_path, capsys, photos, ckpt):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("train: {steps: 1}\n")
    before = snapshot(photos, run_dir)
    err = refused(capsys, *restore(photos, run_dir, ckpt))
    assert "'config.yaml'" in err and "--overwrite" in err
    assert snapshot(photos, run_dir) == before
    assert main([str(a) for a in restore(photos, run_dir, ckpt, "--overwrite")]) == 0
    assert (run_dir / "a.png").is_file() and (run_dir / "config.yaml").is_file()


def test_restore_again_into_its_own_output_folder_works(tmp_path, photos, ckpt):
    out = tmp_path / "restored"
    assert main([str(a) for a in restore(photos, out, ckpt)]) == 0
    assert main([str(a) for a in restore(photos, out, ckpt)]) == 0


@pytest.mark.parametrize("name", ["a.xyz", "restored.png"])
def test_restore_to_a_file_like_name_creates_no_folder(tmp_path, capsys, photos, ckpt, name):
    out = tmp_path / name
    assert "looks like a file name" in refused(capsys, *restore(photos, out, ckpt))
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--tile", "-1"], "--tile"),
        (["--tile-batch", "0"], "--tile-batch"),
        (["--overlap", "-2"], "--overlap"),
        (["--tile", "32", "--overlap", "32"], "--overlap"),
    ],
)
def test_restore_tiling_options_are_checked_by_name(tmp_path, capsys, photos, ckpt, extra, option):
    err = refused(capsys, *restore(photos, tmp_path / "out", ckpt, *extra))
    assert err.startswith(f"dcpt: error: {option}")
    assert not (tmp_path / "out").exists()


def test_degrade_into_its_input_folder_and_to_unknown_extension(tmp_path, capsys, photos):
    before = snapshot(photos)
    refused(capsys, "degrade", photos, "-t", "gaussian_noise", "-l", "25", "-o", photos)
    refused(capsys, "degrade", photos / "a.png", "-t", "gaussian_noise", "-l", "25", "-o", photos / "a.png")
    err = refused(capsys, "degrade", photos / "a.png", "-t", "haze", "-l", "1", "-o", tmp_path / "a.xyz")
    assert ".xyz" in err
    assert not (tmp_path / "a.xyz").exists()
    refused(capsys, "degrade", photos / "a.png", "--sheet", photos / "a.png")
    assert snapshot(photos) == before


def test_degrade_into_a_folder_of_another_kind_needs_overwrite(tmp_path, capsys, photos):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    args = ["degrade", photos, "-t", "haze", "-l", "1", "-o", notes]
    assert "'todo.txt'" in refused(capsys, *args)
    assert sorted(p.name for p in notes.iterdir()) == ["todo.txt"]
    assert main([str(a) for a in args + ["--overwrite"]]) == 0
    assert (notes / "todo.txt").read_text() == "keep me"


@pytest.mark.parametrize("text", ["gaussian_blur:3,", "gaussian_blur:2,,jpeg:40"])
def test_degrade_mixture_with_an_empty_stage_is_one_line(tmp_path, capsys, photos, text):
    assert "empty stage" in refused(capsys, "degrade", photos, "-t", text, "-o", tmp_path / "out")


def test_make_dataset_never_writes_over_its_source(tmp_path, capsys, photos):
    before = snapshot(photos)
    assert "is also an input" in refused(capsys, "make-dataset", photos, photos, "--types", "haze", "-q")
    out = tmp_path / "pairs"
    (out / "gt").mkdir(parents=True)
    write_image(out / "gt" / "a.png", torch.rand(3, 8, 8))
    gt_before = snapshot(out)
    err = refused(capsys, "make-dataset", out / "gt", out, "--types", "haze", "-q")
    assert "where OUT keeps its pairs" in err
    assert snapshot(photos) == before and snapshot(out) == gt_before


def test_make_dataset_into_a_file_or_a_folder_of_another_kind(tmp_path, capsys, photos):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    assert "is a file" in refused(capsys, "make-dataset", photos, existing, "--types", "haze", "-q")
    assert existing.read_text() == "keep me"
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("keep me")
    assert "'thesis.tex'" in refused(capsys, "make-dataset", photos, home, "--types", "haze", "-q")
    assert sorted(p.name for p in home.iterdir()) == ["thesis.tex"]
    assert "looks like a file name" in refused(
        capsys, "make-dataset", photos, tmp_path / "set.xyz", "--types", "haze", "-q"
    )
    assert not (tmp_path / "set.xyz").exists()


def test_make_dataset_into_an_unwritable_folder(tmp_path, capsys, photos, monkeypatch):
    """Checked with os.access (the tests may run as root, for whom chmod changes nothing)."""
    import dcpt.cli.outputs as outputs

    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: Path(path) != locked)
    err = refused(capsys, "make-dataset", photos, locked / "set", "--types", "haze", "-q")
    assert "cannot be created" in err and not (locked / "set").exists()


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--workers", "-2"], "--workers"),
        (["--per-image", "0"], "--per-image"),
        (["--patch", "0"], "--patch"),
    ],
)
def test_make_dataset_counts_are_checked_by_name(tmp_path, capsys, photos, extra, option):
    err = refused(capsys, "make-dataset", photos, tmp_path / "set", "--types", "haze", "-q", *extra)
    assert err.startswith(f"dcpt: error: {option}")
    assert not (tmp_path / "set").exists()


def test_evaluate_outputs_never_land_in_the_data(tmp_path, capsys, photos):
    pairs = tmp_path / "pairs"
    write_image(pairs / "lq" / "a.png", torch.rand(3, 16, 16))
    write_image(pairs / "gt" / "a.png", torch.rand(3, 16, 16))
    before = snapshot(pairs)
    base = ["evaluate", "--identity", "--pairs", f"mine={pairs}", "--quiet"]
    assert "is also an input" in refused(capsys, *base, "--out", pairs)
    assert "overlaps the data folder" in refused(capsys, *base, "--save-images", pairs / "restored")
    assert "'pairs'" in refused(capsys, *base, "--out", tmp_path)
    assert snapshot(pairs) == before and not (pairs / "restored").exists()


def test_analyse_out_is_not_its_data_folder(capsys, photos):
    before = snapshot(photos)
    args = ["analyse", "--arch", "nafnet-tiny", "--random-init", "--data", photos, "--out", photos]
    assert "is also an input" in refused(capsys, *args)
    assert snapshot(photos) == before


def test_demo_out_of_another_kind_is_refused_before_any_work(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.md").write_text("keep me")
    assert "'notes.md'" in refused(capsys, "demo", "--out", home, "--quick")
    assert sorted(p.name for p in home.iterdir()) == ["notes.md"]


@pytest.mark.parametrize("crop", ["0", "-16"])
def test_classify_crop_must_be_positive(capsys, photos, ckpt, crop):
    err = refused(capsys, "classify", photos, "--ckpt", ckpt, "--crop", crop, "--device", "cpu")
    assert err.startswith("dcpt: error: --crop")


def test_classify_of_a_release_pth_asks_for_no_missing_option(tmp_path, capsys, photos):
    """The checkpoint reader asked for --arch, an option classify does not have."""
    pth = tmp_path / "release.pth"
    torch.save({"params": create_model("nafnet-tiny").state_dict()}, pth)
    err = refused(capsys, "classify", photos, "--ckpt", pth, "--device", "cpu")
    assert "no degradation classifier" in err


def test_the_option_check_can_fail():
    """`refused` would catch a message naming an option the command lacks."""
    assert "--arch" not in command_options("classify") and "--arch" in command_options("restore")


CONFIG = Path(__file__).parents[2] / "configs" / "demo-pretrain-dcpt.yaml"


@pytest.mark.parametrize(
    "override, key",
    [
        ("optim.lr=nan", "optim.lr"),
        ("optim.weight_decay=-0.1", "optim.weight_decay"),
        ("optim.grad_clip=-1", "optim.grad_clip"),
        ("train.ckpt_every=-1", "train.ckpt_every"),
        ("data.workers=-2", "data.workers"),
        ("data.patch_size=5000", "data.patch_size=5000"),
    ],
)
def test_pretrain_settings_that_make_no_sense_stop_before_the_run(
    tmp_path, capsys, monkeypatch, override, key
):
    """lr=nan used to reach AdamW (traceback); patch_size=5000 got the process killed at 23 GB."""
    from dcpt.config import memory

    monkeypatch.setattr(memory, "available_ram", lambda: 16 * memory.GIB)
    out = tmp_path / "run"
    err = refused(capsys, "pretrain", CONFIG, "--out", out, "--set", override, "--set", "train.device=cpu")
    assert key in err
    assert not out.exists()


def test_restore_refuses_an_image_that_cannot_fit_and_tiles_fix_it(
    tmp_path, capsys, photos, ckpt, monkeypatch
):
    """The memory estimate states the need and the limit; --tile bounds the need."""
    from dcpt.config import memory

    monkeypatch.setattr(memory, "available_ram", lambda: 300 * 1024)
    out = tmp_path / "out"
    err = refused(capsys, *restore(photos / "a.png", out, ckpt))
    assert "64 x 48 image whole" in err and "768.0 KiB" in err and "300.0 KiB" in err and "--tile 512" in err
    assert not (out / "a.png").exists()
    assert main([str(a) for a in restore(photos / "a.png", out, ckpt, "--tile", "32", "--overlap", "8")]) == 0
    assert (out / "a.png").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["analyse", "--arch", "nafnet-tiny", "--random-init", "--seed", "-1"],
        ["demo", "--seed", "-1", "--quick"],
    ],
    ids=["analyse", "demo"],
)
def test_negative_seeds_are_one_line(tmp_path, capsys, argv):
    """analyse --seed -1 ended in numpy's ValueError traceback."""
    out = tmp_path / "out"
    assert refused(capsys, *argv, "--out", out).startswith("dcpt: error: --seed")
    assert not out.exists()


@pytest.mark.parametrize("op", ["mosaic", "raindrop"])
def test_degrade_one_pixel_high_or_wide_images(tmp_path, op):
    """These ops raised a padding RuntimeError (a traceback) on images one pixel high."""
    src = tmp_path / "thin"
    for h, w in ((1, 1), (1, 9), (9, 1)):
        write_image(src / f"{h}x{w}.png", torch.rand(3, h, w))
    before = snapshot(src)
    assert main(["degrade", str(src), "-t", op, "-l", "1", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1x1.png", "1x9.png", "9x1.png"]
    assert snapshot(src) == before
