import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from dcpt.cli import main
from dcpt.models import create_model
from dcpt.models.checkpoint import save_checkpoint


def _save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def data_root(tmp_path, rng):
    """Rain100L and LOL stand-ins (official layouts); the other 5D sets are absent."""
    root = tmp_path / "data"
    for i in (1, 2):
        gt = rng.integers(40, 200, (26, 35, 3), dtype=np.uint8)
        lq = np.clip(gt.astype(int) + rng.integers(-20, 21, gt.shape), 0, 255).astype(np.uint8)
        _save(root / f"Rain100L/rainy/rain-{i:03d}.png", lq)
        _save(root / f"Rain100L/norain/norain-{i:03d}.png", gt)
        _save(root / f"LOL/eval15/low/{i}.png", (gt // 4).astype(np.uint8))
        _save(root / f"LOL/eval15/high/{i}.png", gt)
    return root


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(create_model("nafnet-tiny"), tmp_path / "tiny.safetensors")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error:") and "\n" not in err, err
    return err


def test_identity_table_csv_and_json(tmp_path, data_root, capsys):
    """Three of the five 5D sets are absent: the table and reports are still written, and the exit
    code is 2 with one line naming the missing sets, so a script cannot take it for a full result."""
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--identity",
            "--benchmark",
            "5d",
            "--data-root",
            str(data_root),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 2
    captured = capsys.readouterr()
    printed, err = captured.out, captured.err.strip()
    assert "\n" not in err and err.startswith("dcpt: error: 3 of 5 data sets could not be scored")
    assert "SOTS outdoor: missing" in err and "GoPro: missing" in err
    assert "| Data set | Images | PSNR (dB) | SSIM |" in printed
    assert f"missing ({data_root / 'SOTS/outdoor'})" in printed
    rows = {r["dataset"]: r for r in csv.DictReader(open(out / "results.csv", encoding="utf-8"))}
    assert list(rows) == ["SOTS outdoor", "Rain100L", "CBSD68 sigma=25", "GoPro", "LOL", "Average"]
    assert rows["GoPro"]["status"] == "missing"
    ref = np.mean(
        [
            peak_signal_noise_ratio(
                np.asarray(Image.open(data_root / f"Rain100L/norain/norain-{i:03d}.png")),
                np.asarray(Image.open(data_root / f"Rain100L/rainy/rain-{i:03d}.png")),
                data_range=255,
            )
            for i in (1, 2)
        ]
    )
    assert float(rows["Rain100L"]["psnr"]) == pytest.approx(ref, abs=1e-3)
    payload = json.loads((out / "results.json").read_text())
    assert payload["meta"]["identity"] is True and len(payload["datasets"]) == 5


def test_checkpoint_on_pairs_agrees_with_restore_and_saves_images(tmp_path, data_root, ckpt, capsys):
    saved = tmp_path / "saved"
    code = main(
        [
            "evaluate",
            "--ckpt",
            str(ckpt),
            "--device",
            "cpu",
            "--pairs",
            f"rain={data_root / 'Rain100L'}",
            "--save-images",
            str(saved),
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (saved / "rain").iterdir()) == ["rain-001.png", "rain-002.png"]
    assert (
        main(
            [
                "restore",
                str(data_root / "Rain100L/rainy"),
                "-o",
                str(tmp_path / "restored"),
                "--ckpt",
                str(ckpt),
                "--device",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    ref = np.mean(
        [
            peak_signal_noise_ratio(
                np.asarray(Image.open(data_root / f"Rain100L/norain/norain-{i:03d}.png")),
                np.asarray(Image.open(tmp_path / f"restored/rain-{i:03d}.png")),
                data_range=255,
            )
            for i in (1, 2)
        ]
    )
    payload = json.loads((tmp_path / "r" / "results.json").read_text())
    assert payload["datasets"][0]["psnr"] == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("case", ["no_root", "missing_ckpt", "corrupt_ckpt", "nothing", "bad_pairs"])
def test_user_errors_exit_2_with_one_line(tmp_path, data_root, ckpt, capsys, case):
    args = ["evaluate", "--ckpt", str(ckpt), "--benchmark", "5d", "--data-root", str(data_root), "--quiet"]
    if case == "no_root":
        args[args.index("--data-root") + 1] = str(tmp_path / "absent")
    elif case == "missing_ckpt":
        args[2] = str(tmp_path / "absent.safetensors")
    elif case == "corrupt_ckpt":
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"\x00garbage" * 10)
        args[2] = str(bad)
    elif case == "nothing":
        args = args[:3]
    else:
        args = args[:3] + ["--pairs", "no-equals-sign"]
    assert main(args) == 2
    one_error_line(capsys)


@pytest.fixture
def release_root(tmp_path, rng):
    """LOL pairs of identical names and clean CBSD68 images: scorable by both release protocols."""
    root = tmp_path / "release"
    for i in (1, 2):
        gt = rng.integers(40, 200, (26, 35, 3), dtype=np.uint8)
        _save(root / f"LOL/eval15/low/{i}.png", (gt // 4).astype(np.uint8))
        _save(root / f"LOL/eval15/high/{i}.png", gt)
        _save(root / f"CBSD68/{i}.png", gt)
    return root


@pytest.mark.parametrize(
    "protocol,image_range,row", [("dcpt", 255.0, "LowLight"), ("maskdcpt", 1.0, "LowLight")]
)
def test_release_protocols_identity_and_checkpoint(
    tmp_path, release_root, ckpt, capsys, protocol, image_range, row
):
    out = tmp_path / f"{protocol}-identity"
    assert (
        main(
            [
                "evaluate",
                "--model",
                "identity",
                "--protocol",
                protocol,
                "--benchmark",
                "5d",
                "--data-root",
                str(release_root),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 2  # three of the five sets are absent: the reports are written, the exit code says so
    )
    payload = json.loads((out / "results.json").read_text())
    assert payload["meta"]["protocol"] == protocol and payload["meta"]["image_range"] == image_range
    scored = {d["name"]: d for d in payload["datasets"] if d["status"] == "ok"}
    assert sorted(scored) == sorted([row, "CBSD68"])
    ref = np.mean(
        [
            peak_signal_noise_ratio(
                np.asarray(Image.open(release_root / f"LOL/eval15/high/{i}.png")),
                np.asarray(Image.open(release_root / f"LOL/eval15/low/{i}.png")),
                data_range=255,
            )
            for i in (1, 2)
        ]
    )
    assert scored[row]["psnr"] == pytest.approx(ref, abs=1e-4)
    net_out = tmp_path / f"{protocol}-net"
    assert (
        main(
            [
                "evaluate",
                "--ckpt",
                str(ckpt),
                "--device",
                "cpu",
                "--protocol",
                protocol,
                "--benchmark",
                "5d",
                "--data-root",
                str(release_root),
                "--out",
                str(net_out),
                "--quiet",
            ]
        )
        == 2  # three of the five sets are absent: the reports are written, the exit code says so
    )
    net_rows = {d["name"]: d for d in json.loads((net_out / "results.json").read_text())["datasets"]}
    assert net_rows[row]["status"] == "ok" and net_rows[row]["psnr"] != pytest.approx(ref, abs=1e-3)
    assert "| LowLight | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "case",
    ["protocol", "benchmark", "empty_root", "toolkit_empty_root", "mismatched", "tile", "model", "pairs"],
)
def test_release_protocol_errors_exit_2_with_one_line(tmp_path, data_root, release_root, capsys, case):
    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["evaluate", "--model", "identity", "--protocol", "dcpt", "--benchmark", "5d", "--quiet"]
    extra = {
        "protocol": ["--data-root", str(release_root), "--protocol", "basicsr"],
        "benchmark": ["--data-root", str(release_root), "--benchmark", "12d"],
        "empty_root": ["--data-root", str(empty)],
        "toolkit_empty_root": ["--data-root", str(empty), "--protocol", "toolkit"],
        "mismatched": ["--data-root", str(data_root)],  # Rain100L/rainy/rain-001.png vs norain/norain-001.png
        "tile": ["--data-root", str(release_root), "--tile", "64"],
        "model": ["--data-root", str(release_root), "--model", "nafnet"],
        "pairs": ["--data-root", str(release_root), "--pairs", f"x={data_root / 'LOL/eval15'}"],
    }[case]
    assert main(base + extra) == 2
    err = one_error_line(capsys)
    expected = {
        "protocol": "unknown protocol",
        "benchmark": "no '12d' benchmark",
        "empty_root": "nothing was scored",
        "toolkit_empty_root": "nothing was scored",
        "mismatched": "identical name",
        "tile": "--tile",
        "model": "only 'identity'",
        "pairs": "--pairs",
    }[case]
    assert expected in err, err
