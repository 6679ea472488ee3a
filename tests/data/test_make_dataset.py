"""`dcpt make-dataset`: replayable pairs, identical bytes for any worker count, resume, bad input."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from dcpt.cli import main
from dcpt.data import make_paired_dataset, read_image
from dcpt.degrade import DEGRADATIONS, apply
from dcpt.errors import DataError

TWO_OPS = ["gaussian_noise", "rain"]  # two types of different families


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate(((24, 30), (28, 28), (26, 34))):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"img{k}.png")
    return folder


def snapshot(out):
    """Every file under `out` (relative path -> bytes)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def manifest(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_pairs_replay_from_the_manifest(src, tmp_path):
    types = TWO_OPS
    out = tmp_path / "out"
    make_paired_dataset(src, out, types, per_image=2, seed=3, patch=16, progress=False)
    records = manifest(out)
    assert len(records) == 3 * 2 * 2
    assert {r["type"] for r in records} == set(types)
    for r in records:
        spec = DEGRADATIONS.get(r["type"])
        assert spec.level_min <= r["level"] <= spec.level_max
        gt = read_image(out / r["gt"])
        top, left = r["crop"]
        source = read_image(r["source"])
        assert torch.equal(gt, source[:, top : top + 16, left : left + 16])
        lq = apply(r["type"], gt[None], r["level"], seeds=[r["seed"]])[0]
        assert torch.equal((lq * 255).round(), (read_image(out / r["lq"]) * 255).round())


def test_resume_after_interruption_gives_the_bytes_of_a_clean_run(src, tmp_path):
    types = TWO_OPS
    reference = tmp_path / "reference"
    make_paired_dataset(src, reference, types, levels=None, per_image=2, seed=1, workers=0, progress=False)
    resumed = tmp_path / "resumed"
    make_paired_dataset(src, resumed, types, per_image=2, seed=1, workers=0, progress=False)
    for k, path in enumerate(sorted((resumed / "lq").iterdir())):
        if k % 3 == 0:
            path.unlink()
    for path in sorted((resumed / "gt").iterdir())[1::4]:
        path.unlink()
    lines = (resumed / "manifest.jsonl").read_text().splitlines(keepends=True)
    (resumed / "manifest.jsonl").write_text("".join(lines[:3]) + lines[3][:10])
    (resumed / "lq" / ".0000_img0_cut-short.png").write_bytes(b"\x89PNG half")  # a write killed mid-way
    make_paired_dataset(src, resumed, types, per_image=2, seed=1, workers=2, progress=False)
    assert snapshot(resumed) == snapshot(reference)


@pytest.mark.slow
def test_a_killed_run_completes_on_rerun(src, tmp_path):
    types = TWO_OPS
    args = [str(src), "--types", *types, "--per-image", "6", "--seed", "4", "--quiet"]
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert main(["make-dataset", args[0], str(reference), *args[1:]]) == 0
    command = [sys.executable, "-m", "dcpt", "make-dataset", args[0], str(resumed), *args[1:]]
    process = subprocess.Popen(command)
    deadline = time.time() + 60
    while process.poll() is None and len(list((resumed / "lq").glob("*.png"))) < 5 and time.time() < deadline:
        time.sleep(0.02)
    process.kill()
    assert process.wait() != 0, "the run ended before it could be killed"
    assert len(list((resumed / "lq").glob("*.png"))) < 2 * 3 * 6
    assert main(["make-dataset", args[0], str(resumed), *args[1:]]) == 0
    assert snapshot(resumed) == snapshot(reference)


def test_other_settings_do_not_mix_into_an_existing_folder(src, tmp_path):
    types = TWO_OPS[:1]
    out = tmp_path / "out"
    make_paired_dataset(src, out, types, seed=0, progress=False)
    with pytest.raises(DataError, match="made with other settings"):
        make_paired_dataset(src, out, types, seed=1, progress=False)


def test_fixed_levels_and_embedded_samples(tmp_path):
    name = TWO_OPS[0]
    spec = DEGRADATIONS.get(name)
    level = spec.sheet_levels()[1]
    assert (
        main(
            [
                "make-dataset",
                "samples",
                str(tmp_path / "out"),
                "--types",
                name,
                "--levels",
                str(level),
                "--patch",
                "24",
                "--quiet",
            ]
        )
        == 0
    )
    records = manifest(tmp_path / "out")
    assert records[0]["source"] == "samples:astronaut" and len(records) >= 13
    assert all(abs(r["level"] - level) < 1e-5 for r in records)
    with Image.open(tmp_path / "out" / records[0]["gt"]) as im:
        assert im.size == (24, 24) and im.mode == "RGB"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--types", "no_such_op"], "unknown degradation type"),
        (["--types", "{op}", "--levels", "1e9"], "out of range"),
        (["--types", "{op}", "{op2}", "--levels", "0"], "one level per type"),
        (["--types", "{op}", "--patch", "4096"], "smaller than the 4096x4096 patch"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(src, tmp_path, capsys, extra, message):
    first, second = TWO_OPS
    args = [a.format(op=first, op2=second) for a in extra]
    assert main(["make-dataset", str(src), str(tmp_path / "out"), *args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_missing_or_empty_source_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for src in (tmp_path / "missing", tmp_path / "empty"):
        assert main(["make-dataset", str(src), str(tmp_path / "out"), "--types", TWO_OPS[0], "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert str(src) in err and "\n" not in err
