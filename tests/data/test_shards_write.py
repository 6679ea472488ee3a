"""`dcpt make-dataset --format shards`: manifest against the files, independent readers, resume."""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest
import torch
from PIL import Image

from dcpt.cli import main
from dcpt.data import make_paired_dataset, read_image
from dcpt.data.io import from_numpy
from dcpt.data.shards import verify_shards
from dcpt.errors import DataError

TYPES = ["gaussian_noise", "jpeg"]


def _image(path, seed, size=(24, 30)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    for k in range(3):
        _image(folder / f"img{k}.png", k)
    return folder


def shards(out, src, **kw):
    kw = {"per_image": 2, "seed": 3, "patch": 16, "shard_size": 5, "progress": False, **kw}
    return make_paired_dataset(src, out, TYPES, format="shards", **kw)


def snapshot(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def members(path):
    """{key: {side: bytes}} of a shard read with Python's tarfile."""
    found = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            key, _, side = m.name.partition(".")
            found.setdefault(key, {})[side] = tar.extractfile(m).read()
    return found


def png(data):
    return from_numpy(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def test_manifest_counts_and_checksums_match_the_files(src, tmp_path):
    out = tmp_path / "out"
    shards(out, src)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["types"] == TYPES and manifest["total"] == 3 * 2 * 2
    assert [e["count"] for e in manifest["shards"]] == [5, 5, 2]
    types = []
    for entry in manifest["shards"]:
        data = (out / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        found = members(out / entry["name"])
        assert len(found) == entry["count"]
        for key, sides in found.items():
            assert set(sides) == {"lq.png", "gt.png", "json"}
            meta = json.loads(sides["json"])
            assert meta["key"] == key and meta["label"] == TYPES.index(meta["type"])
            assert {"level", "seed"} <= set(meta)
            types.append(meta["type"])
    assert {t: types.count(t) for t in TYPES} == manifest["counts"] == {t: 6 for t in TYPES}
    assert verify_shards(out)["total"] == 12


def test_shards_hold_the_pixels_of_the_folder_format(src, tmp_path):
    records = shards(tmp_path / "shards", src)
    folder = tmp_path / "folders"
    make_paired_dataset(src, folder, TYPES, per_image=2, seed=3, patch=16, progress=False)
    assert len(records) == 12
    for r in records:
        sides = members(tmp_path / "shards" / r["shard"])[r["key"]]
        name = f"{r['key']}.png"
        assert torch.equal(png(sides["gt.png"]), read_image(folder / "gt" / name))
        assert torch.equal(png(sides["lq.png"]), read_image(folder / "lq" / name))
        top, left = r["crop"]
        source = read_image(r["source"])
        assert torch.equal(png(sides["gt.png"]), source[:, top : top + 16, left : left + 16])


def test_webdataset_reads_the_shards(src, tmp_path):
    wds = pytest.importorskip("webdataset")
    out = tmp_path / "out"
    records = shards(out, src)
    urls = [str(p) for p in sorted(out.glob("shard-*.tar"))]
    seen = []
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        assert {"lq.png", "gt.png", "json"} <= set(sample)
        assert json.loads(sample["json"])["key"] == sample["__key__"]
        seen.append(sample["__key__"])
    assert sorted(seen) == sorted(r["key"] for r in records)


def test_an_interrupted_run_completes_to_the_bytes_of_a_clean_run(src, tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    shards(reference, src)
    shards(resumed, src)
    (resumed / "manifest.json").unlink()
    (resumed / "shard-000001.tar").unlink()
    data = (resumed / "shard-000002.tar").read_bytes()
    (resumed / "shard-000002.tar").write_bytes(data[:700])  # damaged after its rename
    (resumed / ".shard-000001.tmp-abc.tar").write_bytes(data[:300])  # a write killed mid-way
    shards(resumed, src)
    assert snapshot(resumed) == snapshot(reference)
    assert not list(resumed.glob(".*"))


def test_other_settings_do_not_mix_into_an_existing_folder(src, tmp_path):
    shards(tmp_path / "out", src)
    with pytest.raises(DataError, match="made with other settings"):
        shards(tmp_path / "out", src, shard_size=4)


def test_a_bad_source_stops_or_is_skipped(src, tmp_path):
    data = (src / "img1.png").read_bytes()
    (src / "img1.png").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"img1\.png.*stopped with \d of 3 shards") as err:
        shards(out, src, patch=None)
    assert "\n" not in str(err.value) and not (out / "manifest.json").exists()
    from dcpt.data.bad_samples import BadSamplePolicy

    records = shards(out, src, patch=None, bad_samples=BadSamplePolicy("skip", 0.5))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["total"] == len(records) == 2 * 2 * 2
    keys = [k for e in manifest["shards"] for k in members(out / e["name"])]
    assert sorted(keys) == sorted(r["key"] for r in records) and not any("img1" in k for k in keys)


def test_cli_writes_shards_and_refuses_a_bad_shard_size(src, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["make-dataset", str(src), str(out), "--types", *TYPES, "--format", "shards", "--quiet"]
    assert main([*args, "--shard-size", "4"]) == 0
    assert len(list(out.glob("shard-*.tar"))) == 2 and (out / "manifest.json").is_file()
    assert main([*args, "--shard-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--shard-size: expected an integer >= 1" in err and "\n" not in err


@pytest.mark.slow
def test_a_killed_pool_completes_on_rerun(src, tmp_path):
    for k in range(3, 12):
        _image(src / f"img{k}.png", k)
    args = [str(src), "--types", *TYPES, "--per-image", "2", "--format", "shards", "--shard-size", "3", "-q"]
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert main(["make-dataset", args[0], str(reference), *args[1:]]) == 0
    command = [sys.executable, "-m", "dcpt", "make-dataset", args[0], str(resumed), *args[1:], "-j", "2"]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.time() + 120
    while process.poll() is None and len(list(resumed.glob("shard-*.tar"))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its pool
    assert process.wait() != 0, "the run ended before it could be killed"
    assert len(list(resumed.glob("shard-*.tar"))) < 16
    assert main(["make-dataset", args[0], str(resumed), *args[1:], "-j", "2"]) == 0
    assert snapshot(resumed) == snapshot(reference)
