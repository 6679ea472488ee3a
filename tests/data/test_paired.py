"""Paired benchmark layouts, pairing rules, aligned training crops, CBSD68-style seeded noise, concat."""

import numpy as np
import pytest
import torch
from PIL import Image

from dcpt.data import BalancedClassSampler, LabelledConcat, NoisyCleanDataset, PairedFolderDataset
from dcpt.errors import ConfigError, DataError


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def random_image(seed, height=20, width=24):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def as_tensor(array):
    return torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)


def build(root, lq_dir, gt_dir, pairs):
    """Write clean images to gt_dir and their inverse (255 - clean) to lq_dir; returns {lq stem: clean}."""
    expected = {}
    for k, (lq_name, gt_name) in enumerate(pairs):
        clean = random_image(k)
        write_png(root / gt_dir / gt_name, clean)
        write_png(root / lq_dir / lq_name, 255 - clean)
        expected[lq_name.rsplit(".", 1)[0]] = clean
    return expected


LAYOUT_CASES = {
    "rain100": ("rainy", "norain", [("rain-001.png", "norain-001.png"), ("rain-002.png", "norain-002.png")]),
    "rain100-same-names": ("rainy", "norain", [("1.png", "1.png"), ("2.png", "2.png")]),
    "sots": ("hazy", "gt", [("0001_0.8_0.2.png", "0001.bmp"), ("0002_1_0.16.png", "0002.png")]),
    "gopro": ("input", "groundtruth", [("a.png", "a.png"), ("b.png", "b.png")]),
    "gopro-blur-sharp": ("blur", "sharp", [("000001.png", "000001.png")]),
    "lol": ("low", "high", [("1.png", "1.png"), ("22.png", "22.png")]),
    "generic": ("lq", "gt", [("x.png", "x.png"), ("y.png", "y.png")]),
}


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_each_layout_is_detected_and_paired(tmp_path, case):
    lq_dir, gt_dir, pairs = LAYOUT_CASES[case]
    expected = build(tmp_path, lq_dir, gt_dir, pairs)
    ds = PairedFolderDataset(tmp_path, label=3)
    assert ds.layout == case.split("-")[0]
    assert len(ds) == len(pairs)
    for item in ds:
        clean = as_tensor(expected[item["name"]])
        assert torch.equal(item["gt"], clean)
        torch.testing.assert_close(item["lq"], 1 - clean, atol=1e-6, rtol=0)
        assert item["label"] == 3


def test_sots_pairs_many_hazy_images_with_one_clean_image(tmp_path):
    clean = random_image(0)
    write_png(tmp_path / "gt" / "0005.png", clean)
    for beta in ("0.04", "0.2"):
        write_png(tmp_path / "hazy" / f"0005_0.8_{beta}.png", 255 - clean)
    ds = PairedFolderDataset(tmp_path, layout="sots")
    assert [gt.name for _, gt in ds.pairs] == ["0005.png", "0005.png"]
    assert [item["name"] for item in ds] == ["0005_0.8_0.04", "0005_0.8_0.2"]


def test_unmatched_files_are_listed(tmp_path):
    build(tmp_path, "low", "high", [("1.png", "1.png"), ("2.png", "3.png"), ("4.png", "5.png")])
    with pytest.raises(DataError, match=r"2 degraded files in .*low without a partner: 2\.png, 4\.png"):
        PairedFolderDataset(tmp_path)


def test_unknown_layouts_are_explained(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match=r"no known paired layout .* found \['photos'\]"):
        PairedFolderDataset(tmp_path)
    with pytest.raises(ConfigError, match="unknown layout"):
        PairedFolderDataset(tmp_path, layout="div2k")
    with pytest.raises(DataError, match="no such folder"):
        PairedFolderDataset(tmp_path / "missing")


def test_training_crops_stay_aligned_and_are_reproducible(tmp_path):
    build(tmp_path, "lq", "gt", [("a.png", "a.png"), ("b.png", "b.png")])
    ds = PairedFolderDataset(tmp_path, patch_size=8, augment=True, seed=2)
    for index in range(2):
        item = ds[index]
        assert item["lq"].shape == (3, 8, 8)
        torch.testing.assert_close(item["lq"], 1 - item["gt"], atol=1e-6, rtol=0)
        assert torch.equal(ds[index]["gt"], item["gt"])
    with pytest.raises(DataError, match="smaller than the 32x32 patch"):
        PairedFolderDataset(tmp_path, patch_size=32)[0]


def test_cbsd68_noise_has_the_right_std_and_is_fixed(tmp_path):
    write_png(tmp_path / "grey.png", np.full((64, 64, 3), 128, np.uint8))
    write_png(tmp_path / "other.png", random_image(1, 32, 32))
    sigma = 25
    ds = NoisyCleanDataset(tmp_path, sigma=sigma, seed=0)
    item = next(it for it in ds if it["name"] == "grey")
    diff = (item["lq"] - item["gt"]).double() * 255
    # floor quantisation adds uniform [-1, 0) error: mean -0.5, variance 1/12
    assert abs(diff.std().item() - np.sqrt(sigma**2 + 1 / 12)) < 0.03 * sigma
    assert abs(diff.mean().item() + 0.5) < 0.5
    again = NoisyCleanDataset(tmp_path, sigma=sigma, seed=0)
    assert all(torch.equal(a["lq"], b["lq"]) for a, b in zip(ds, again))
    assert not torch.equal(NoisyCleanDataset(tmp_path, sigma=sigma, seed=1)[0]["lq"], ds[0]["lq"])
    # the protocol, written out with numpy: 0-255 image + sigma * randn (H, W, 3), clip, truncate
    index = [p.name for p in ds.paths].index("other.png")
    clean = random_image(1, 32, 32).astype(np.float64)
    noise = np.random.RandomState(ds.noise_seed(index)).randn(32, 32, 3)
    expected = np.clip(clean + sigma * noise, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal((ds[index]["lq"].permute(1, 2, 0).numpy() * 255).round(), expected)
    with pytest.raises(ConfigError, match="0-255 scale"):
        NoisyCleanDataset(tmp_path, sigma=-1)


def test_labelled_concat_and_balanced_sampler(tmp_path):
    build(tmp_path / "rain", "rainy", "norain", [("rain-1.png", "norain-1.png")])
    build(tmp_path / "low", "low", "high", [(f"{k}.png", f"{k}.png") for k in range(3)])
    members = [
        ("derain", PairedFolderDataset(tmp_path / "rain")),
        ("lowlight", PairedFolderDataset(tmp_path / "low")),
    ]
    data = LabelledConcat(members)
    assert data.class_names == ["derain", "lowlight"] and len(data) == 4
    assert [data[i]["label"] for i in range(4)] == [0, 1, 1, 1]
    assert set(data[0]) == {"lq", "gt", "label"}
    sampler = BalancedClassSampler(data, num_samples=40, seed=0)
    labels = [data.locate(i)[0] for i in sampler]
    assert labels == [0, 1] * 20
    assert list(sampler) == list(BalancedClassSampler(data, num_samples=40, seed=0))
    assert len({i for i in sampler if i > 0}) == 3
    with pytest.raises(ConfigError, match="unique"):
        LabelledConcat([("a", members[0][1]), ("a", members[1][1])])
