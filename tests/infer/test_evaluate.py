import csv
import json

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dcpt.data.paired import NoisyCleanDataset
from dcpt.errors import DcptError
from dcpt.infer.benchmarks import TABLES, benchmark_sets
from dcpt.infer.evaluate import evaluate_benchmark, evaluate_pairs, markdown_table, write_reports


def _save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


def make_benchmark_root(root, rng, size=(30, 41)):
    """Tiny stand-ins for every 5D data set in its official layout; returns {row name: [(lq, gt)...]}."""

    def pair(lq_path, gt_path):
        gt = rng.integers(30, 220, (*size, 3), dtype=np.uint8)
        lq = np.clip(gt.astype(int) + rng.integers(-25, 26, gt.shape), 0, 255).astype(np.uint8)
        _save(lq_path, lq)
        _save(gt_path, gt)
        return lq_path, gt_path

    for i in range(3):
        _save(root / "CBSD68" / f"{i:03d}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return {
        "Rain100L": [
            pair(root / f"Rain100L/rainy/rain-{i:03d}.png", root / f"Rain100L/norain/norain-{i:03d}.png")
            for i in (1, 2)
        ],
        "SOTS outdoor": [
            pair(root / f"SOTS/outdoor/hazy/{i:04d}_0.8_0.2.jpg", root / f"SOTS/outdoor/gt/{i:04d}.png")
            for i in (1, 2)
        ],
        "GoPro": [
            pair(root / f"GoPro/test/input/{n}.png", root / f"GoPro/test/groundtruth/{n}.png") for n in "ab"
        ],
        "LOL": [pair(root / f"LOL/eval15/low/{i}.png", root / f"LOL/eval15/high/{i}.png") for i in (1, 22)],
    }


def read_u8(path):
    return np.asarray(Image.open(path).convert("RGB"))


def skimage_scores(pairs):
    """Independent reference: scikit-image on the 8-bit files, averaged over the pairs."""
    psnrs, ssims = [], []
    for lq, gt in pairs:
        a, b = read_u8(lq), read_u8(gt)
        psnrs.append(peak_signal_noise_ratio(b, a, data_range=255))
        ssims.append(
            structural_similarity(
                b,
                a,
                data_range=255,
                channel_axis=2,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
        )
    return np.mean(psnrs), np.mean(ssims)


def test_identity_5d_table_matches_scikit_image(tmp_path, rng):
    pairs = make_benchmark_root(tmp_path, rng)
    results = evaluate_benchmark(None, "5d", tmp_path, show_progress=False)
    assert [r.name for r in results] == [s.name for s in TABLES["5d"]]
    assert all(r.status == "ok" for r in results)
    by_name = {r.name: r for r in results}
    for name, files in pairs.items():
        ref_psnr, ref_ssim = skimage_scores(files)
        assert by_name[name].psnr == pytest.approx(ref_psnr, abs=1e-6)
        assert by_name[name].ssim == pytest.approx(ref_ssim, abs=2e-3)
        assert by_name[name].images == len(files)


def test_noise_rows_score_the_seeded_noisy_inputs(tmp_path, rng):
    make_benchmark_root(tmp_path, rng)
    results = evaluate_benchmark(None, "3d", tmp_path, show_progress=False)
    assert [r.name for r in results] == [
        "CBSD68 sigma=15",
        "CBSD68 sigma=25",
        "CBSD68 sigma=50",
        "Rain100L",
        "SOTS outdoor",
    ]
    for result, sigma in zip(results[:3], (15, 25, 50)):
        data = NoisyCleanDataset(tmp_path / "CBSD68", sigma)
        ref = np.mean(
            [
                peak_signal_noise_ratio(
                    np.round(data[i]["gt"].numpy() * 255).astype(np.uint8),
                    np.round(data[i]["lq"].numpy() * 255).astype(np.uint8),
                    data_range=255,
                )
                for i in range(len(data))
            ]
        )
        assert result.psnr == pytest.approx(ref, abs=1e-6)
    assert results[0].psnr > results[1].psnr > results[2].psnr


def test_jpeg_row_and_missing_rows_of_the_12d_table(tmp_path, rng):
    make_benchmark_root(tmp_path, rng)
    results = evaluate_benchmark(None, "12d", tmp_path, show_progress=False)
    assert [r.name for r in results] == [s.name for s in TABLES["12d"]]
    status = {r.name: r.status for r in results}
    assert status["SIDD"] == "missing" and status["Moire"] == "missing" and status["GoPro"] == "ok"
    jpeg = next(r for r in results if r.name.startswith("JPEG"))
    refs = []
    for path in sorted((tmp_path / "CBSD68").iterdir()):
        gt = read_u8(path)
        _, code = cv2.imencode(".jpg", gt[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 50])
        refs.append(
            peak_signal_noise_ratio(gt, cv2.imdecode(code, cv2.IMREAD_COLOR)[:, :, ::-1], data_range=255)
        )
    assert jpeg.psnr == pytest.approx(np.mean(refs), abs=1e-6)
    table = markdown_table(results)
    assert f"missing ({tmp_path / 'SIDD/val'})" in table
    assert "**Average** (8 of 15)" in table


def test_overrides_and_bad_inputs(tmp_path, rng):
    pairs = make_benchmark_root(tmp_path / "root", rng)
    moved = tmp_path / "elsewhere"
    (tmp_path / "root" / "LOL").rename(moved)
    sets = benchmark_sets("5d", tmp_path / "root", {"LOL": str(moved / "eval15")})
    assert sets[-1].path == str(moved / "eval15")
    with pytest.raises(DcptError, match="does not exist"):
        benchmark_sets("5d", tmp_path / "nowhere")
    with pytest.raises(DcptError, match="names no data set"):
        benchmark_sets("5d", tmp_path / "root", {"Kodak": "x"})
    with pytest.raises(DcptError, match="unknown benchmark"):
        benchmark_sets("7d", tmp_path / "root")
    assert pairs


def test_broken_folder_is_an_error_row_and_reports_are_written(tmp_path, rng):
    pairs = make_benchmark_root(tmp_path, rng)
    (tmp_path / "broken" / "lq").mkdir(parents=True)
    (tmp_path / "broken" / "gt").mkdir()
    results = evaluate_pairs(
        None, [f"gopro={tmp_path / 'GoPro/test'}", f"broken={tmp_path / 'broken'}"], show_progress=False
    )
    assert [r.status for r in results] == ["ok", "error"]
    paths = write_reports(results, tmp_path / "out", {"identity": True})
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert [r["dataset"] for r in rows] == ["gopro", "broken", "Average"]
    assert float(rows[0]["psnr"]) == pytest.approx(skimage_scores(pairs["GoPro"])[0], abs=1e-3)
    payload = json.loads(paths["json"].read_text())
    assert payload["average"]["psnr"] == pytest.approx(results[0].psnr)
    assert [img["name"] for img in payload["datasets"][0]["per_image"]] == ["a", "b"]
    assert payload["datasets"][1]["psnr"] is None
