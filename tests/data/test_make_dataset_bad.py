"""`make-dataset` and a bad source image: it stops with one line (or skips), the folder always holds
exactly the pairs its manifest lists, and a re-run completes it to the bytes of a clean run."""

import json
import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from dcpt.cli import main
from dcpt.data import make_paired_dataset
from dcpt.data.bad_samples import BadSamplePolicy
from dcpt.errors import DataError

TYPES = ["gaussian_noise", "rain"]


def _good(path, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def src(tmp_path):
    """img0, img1 (truncated: its header reads, its pixels do not), img2."""
    folder = tmp_path / "clean"
    folder.mkdir()
    for k in range(3):
        _good(folder / f"img{k}.png", k)
    data = (folder / "img1.png").read_bytes()
    (folder / "img1.png").write_bytes(data[: len(data) // 2])
    return folder


def manifest(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def assert_consistent(out):
    """Every listed pair is on disk and every image on disk is listed: nothing half-written."""
    listed = {r[side] for r in manifest(out) for side in ("lq", "gt")}
    on_disk = {f"{p.parent.name}/{p.name}" for side in ("lq", "gt") for p in (out / side).iterdir()}
    assert listed == on_disk
    return listed


def snapshot(out):
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_error_stops_naming_the_file_with_the_manifest_of_what_was_written(src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"img1\.png.*lists the 2 pairs written") as err:
        make_paired_dataset(src, out, TYPES, progress=False)
    assert "\n" not in str(err.value)
    assert [r["source"] for r in manifest(out)] == [str(src / "img0.png")] * 2
    assert len(assert_consistent(out)) == 4


def test_a_stopped_run_completes_to_the_bytes_of_a_clean_run(src, tmp_path):
    good = src.parent / "img1-good.png"
    _good(good, 1)
    broken = (src / "img1.png").read_bytes()
    shutil.copy(good, src / "img1.png")
    make_paired_dataset(src, tmp_path / "reference", TYPES, progress=False)

    (src / "img1.png").write_bytes(broken)
    with pytest.raises(DataError):
        make_paired_dataset(src, tmp_path / "out", TYPES, progress=False)
    shutil.copy(good, src / "img1.png")
    make_paired_dataset(src, tmp_path / "out", TYPES, progress=False)
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "reference")


def test_skip_completes_without_the_bad_image(src, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        records = make_paired_dataset(
            src, out, TYPES, progress=False, bad_samples=BadSamplePolicy("skip", 0.5)
        )
    assert len(records) == 4 and all("img1" not in r["source"] for r in records)
    assert len(assert_consistent(out)) == 8
    assert "img1.png" in caplog.text and "skipped 1 of 3 source images" in caplog.text


def test_skip_after_a_stop_completes_the_same_folder(src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError):
        make_paired_dataset(src, out, TYPES, progress=False)
    make_paired_dataset(src, out, TYPES, progress=False, bad_samples=BadSamplePolicy("skip", 0.5))
    assert len(manifest(out)) == 4 and len(assert_consistent(out)) == 8


def test_too_many_bad_stops_with_a_consistent_folder(src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError, match="1 of 3 source images are unreadable, above .*max_bad_fraction 0.2"):
        make_paired_dataset(src, out, TYPES, progress=False, bad_samples=BadSamplePolicy("skip", 0.2))
    assert_consistent(out)


def test_a_pool_of_workers_stops_cleanly(src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"img1\.png"):
        make_paired_dataset(src, out, TYPES, workers=2, progress=False)
    assert_consistent(out)
    assert not [p for p in out.rglob(".*") if p.is_file()]


def test_skip_with_patches_leaves_out_an_image_whose_header_is_bad(src, tmp_path):
    (src / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    out = tmp_path / "out"
    records = make_paired_dataset(
        src, out, TYPES, patch=16, progress=False, bad_samples=BadSamplePolicy("skip", 0.5)
    )
    assert [r["image_index"] for r in records] == [0, 0, 2, 2]
    with pytest.raises(DataError, match=r"img1\.png"):
        make_paired_dataset(src, tmp_path / "other", TYPES, patch=16, progress=False)
    assert not (tmp_path / "other").exists()  # stopped before writing anything


def cli(src, out, *options):
    return main(["make-dataset", str(src), str(out), "-t", *TYPES, "--quiet", *options])


def test_cli_one_line_exit_2(src, tmp_path, capsys):
    code = cli(src, tmp_path / "out")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "img1.png" in err[0]
    assert "--on-bad-sample" in err[0] and "data.on_bad_sample" not in err[0]


def test_cli_skip_writes_the_good_images_pairs_and_their_manifest(src, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        assert cli(src, out, "--on-bad-sample", "skip", "--max-bad-fraction", "0.5") == 0
    assert sorted(r["source"] for r in manifest(out)) == [str(src / f"img{k}.png") for k in (0, 0, 2, 2)]
    assert len(assert_consistent(out)) == 8
    assert "img1.png" in caplog.text and "skipped 1 of 3 source images" in caplog.text


def test_cli_skip_stops_above_the_fraction_naming_the_option(src, tmp_path, capsys):
    assert cli(src, tmp_path / "out", "--on-bad-sample", "skip") == 2  # 1 of 3 is above 0.01
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-bad-fraction 0.01" in err[0] and "img1.png" in err[0]


@pytest.mark.parametrize("fraction", ["1.5", "-0.1", "nan"])
def test_cli_max_bad_fraction_outside_0_1_is_one_line(src, tmp_path, capsys, fraction):
    out = tmp_path / "out"
    assert cli(src, out, "--on-bad-sample", "skip", "--max-bad-fraction", fraction) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-bad-fraction" in err[0] and "[0, 1]" in err[0]
    assert not out.exists()
