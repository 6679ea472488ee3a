"""`dcpt evaluate --no-reference DIR` and `dcpt restore --metrics`: PIQE / NIQE before and after restoration."""

import csv
import json
import math
from importlib.resources import files

import pytest
import torch

from dcpt.cli import main
from dcpt.data import load_samples
from dcpt.data.io import read_image, write_image
from dcpt.metrics import niqe, piqe

SHIPPED = str(files("dcpt") / "assets/demo/nafnet-tiny-maskdcpt.safetensors")


@pytest.fixture
def photos(tmp_path):
    """Two noisy crops of an embedded photograph: 104 x 200 (NIQE has its two 96 x 96 blocks) and
    48 x 64 (too small for NIQE)."""
    coffee = dict(load_samples("test"))["coffee"]
    g = torch.Generator().manual_seed(0)
    folder = tmp_path / "real"
    for name, (h, w) in {"big.png": (104, 200), "small.png": (48, 64)}.items():
        crop = coffee[:, 100 : 100 + h, 150 : 150 + w]
        write_image(folder / name, (crop + 0.08 * torch.randn(crop.shape, generator=g)).clamp(0, 1))
    return folder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error:") and "\n" not in err, err
    return err


def evaluate(folder, *extra):
    argv = ["evaluate", "--no-reference", folder, "--ckpt", SHIPPED, "--device", "cpu", "--quiet", *extra]
    return main([str(a) for a in argv])


def test_table_and_reports_hold_the_scores_of_inputs_and_restorations(tmp_path, photos, capsys):
    out, saved = tmp_path / "report", tmp_path / "restored"
    assert evaluate(photos, "--out", out, "--save-images", saved) == 0
    printed = capsys.readouterr().out
    assert "| Image | Size | PIQE input | PIQE restored | PIQE change |" in printed
    assert "| **Mean** (PIQE over 2, NIQE over 1) |" in printed
    assert (out / "results.md").read_text().strip() in printed

    report = json.loads((out / "results.json").read_text())
    rows = {row["name"]: row for row in report["images"]}
    assert sorted(rows) == ["big.png", "small.png"] and sorted(p.name for p in saved.iterdir()) == sorted(
        rows
    )
    for name, row in rows.items():
        before, after = read_image(photos / name), read_image(saved / name)
        assert row["before"]["piqe"] == pytest.approx(float(piqe(before)), rel=1e-9)
        assert row["after"]["piqe"] == pytest.approx(float(piqe(after)), rel=1e-9)
        expected = 100 * (row["after"]["piqe"] - row["before"]["piqe"]) / row["before"]["piqe"]
        assert row["change_percent"]["piqe"] == pytest.approx(expected)
    assert rows["big.png"]["after"]["niqe"] == pytest.approx(
        float(niqe(read_image(saved / "big.png"))), rel=1e-9
    )
    assert rows["small.png"]["before"]["niqe"] is None and rows["small.png"]["change_percent"]["niqe"] is None

    mean = report["mean"]
    piqe_in = sum(r["before"]["piqe"] for r in rows.values()) / 2
    piqe_out = sum(r["after"]["piqe"] for r in rows.values()) / 2
    assert mean["piqe"]["input"] == pytest.approx(piqe_in)
    assert mean["piqe"]["change_percent"] == pytest.approx(100 * (piqe_out - piqe_in) / piqe_in)
    assert mean["niqe"]["images"] == 1 and mean["niqe"]["input"] == pytest.approx(
        rows["big.png"]["before"]["niqe"]
    )

    with (out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["image"] for r in table] == ["big.png", "small.png", "Mean"]
    assert float(table[-1]["piqe_change_percent"]) == pytest.approx(mean["piqe"]["change_percent"], abs=1e-4)
    assert table[1]["niqe_input"] == ""
    assert not any(math.isnan(float(v)) for r in table for k, v in r.items() if k != "image" and v)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--benchmark", "5d", "--data-root", "x"], "--benchmark scores paired data"),
        (["--pairs", "a=b"], "--pairs scores paired data"),
        (["--protocol", "maskdcpt"], "--protocol maskdcpt is a release's paired test pipeline"),
        (["--tile", "64", "--overlap", "64"], "--overlap 64 must be smaller than --tile 64"),
    ],
)
def test_options_that_do_not_go_with_it_are_one_line_errors(photos, capsys, extra, message):
    assert evaluate(photos, *extra) == 2
    assert message in one_error_line(capsys)


def test_a_missing_folder_an_identity_model_and_an_output_inside_are_refused(tmp_path, photos, capsys):
    assert evaluate(tmp_path / "nope") == 2
    assert "does not exist; expected a folder of photographs" in one_error_line(capsys)
    argv = ["evaluate", "--no-reference", str(photos), "--identity", "--quiet"]
    assert main(argv) == 2
    assert "give --ckpt CKPT" in one_error_line(capsys)
    assert evaluate(photos, "--save-images", photos / "restored") == 2
    assert "overlaps the photographs' folder" in one_error_line(capsys)
    assert evaluate(photos, "--out", photos) == 2
    one_error_line(capsys)


def test_restore_metrics_prints_a_line_per_image(tmp_path, photos, capsys):
    out = tmp_path / "out"
    argv = [
        "restore",
        str(photos),
        "-o",
        str(out),
        "--ckpt",
        SHIPPED,
        "--device",
        "cpu",
        "--metrics",
        "--quiet",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("restored 2 image(s)")
    big = next(line for line in lines if line.startswith("big.png: "))
    before, after = float(piqe(read_image(photos / "big.png"))), float(piqe(read_image(out / "big.png")))
    change = 100 * (after - before) / before
    assert f"PIQE {before:.2f} -> {after:.2f} ({change:+.1f}%)" in big
    assert "NIQE " in big and "n/a" not in big
    small = next(line for line in lines if line.startswith("small.png: "))
    assert small.endswith("NIQE n/a -> n/a (n/a)")


def test_restore_without_metrics_prints_no_scores(tmp_path, photos, capsys):
    argv = [
        "restore",
        str(photos),
        "-o",
        str(tmp_path / "out"),
        "--ckpt",
        SHIPPED,
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(argv) == 0
    assert "PIQE" not in capsys.readouterr().out
