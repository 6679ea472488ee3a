"""SyntheticDataset: crops from the right place, exact flips / turns, determinism, batched degradation."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dcpt.data import DegradationClass, SyntheticDataset, degrade_batch, derive_seed, write_image
from dcpt.data.crops import augment
from dcpt.degrade import DEGRADATIONS
from dcpt.errors import ConfigError, DataError, DcptError

TWO_OPS = ["gaussian_noise", "rain"]  # two types of different families


def coordinate_image(height=40, width=52):
    """Red = row / 255, green = column / 255: every pixel names its own position exactly."""
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([yy / 255.0, xx / 255.0, torch.full_like(yy, 128) / 255.0]).float()


def window_of(gt):
    """Top-left (row, column) of the source window a coordinate-image patch came from."""
    rows, cols = (gt[0] * 255).round().long(), (gt[1] * 255).round().long()
    return int(rows.min()), int(cols.min())


def test_crops_come_from_the_right_place():
    src = coordinate_image()
    ds = SyntheticDataset([src], TWO_OPS[:1], patch_size=16, length=20, flips=False, rotations=False)
    corners = set()
    for i in range(len(ds)):
        gt = ds[i]["gt"]
        top, left = window_of(gt)
        corners.add((top, left))
        assert torch.equal(gt, src[:, top : top + 16, left : left + 16])
    assert len(corners) > 10


def test_augment_matches_numpy_exactly():
    img = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
    ref = img.numpy()
    for hflip in (False, True):
        for vflip in (False, True):
            for turns in range(4):
                expected = ref[:, :, ::-1] if hflip else ref
                expected = expected[:, ::-1] if vflip else expected
                expected = np.rot90(expected, turns, axes=(1, 2))
                np.testing.assert_array_equal(augment(img, hflip, vflip, turns).numpy(), expected)


def test_patches_are_dihedral_transforms_of_their_window():
    src = coordinate_image()
    ds = SyntheticDataset([src], TWO_OPS[:1], patch_size=12, length=64, seed=3)
    seen = set()
    for i in range(len(ds)):
        gt = ds[i]["gt"]
        top, left = window_of(gt)
        window = src[:, top : top + 12, left : left + 12]
        matches = [
            (h, v, t)
            for h in (0, 1)
            for v in (0, 1)
            for t in range(4)
            if torch.equal(gt, augment(window, h, v, t))
        ]
        assert matches, f"item {i} is not a flip / turn of its window"
        rows, cols = gt[0] * 255, gt[1] * 255
        steps = (
            rows[1, 0] - rows[0, 0],
            rows[0, 1] - rows[0, 0],
            cols[1, 0] - cols[0, 0],
            cols[0, 1] - cols[0, 0],
        )
        seen.add(tuple(int(torch.sign(s.round())) for s in steps))
    assert len(seen) == 8  # all eight orientations occur


def test_items_depend_only_on_seed_epoch_and_index():
    ds = SyntheticDataset([coordinate_image()], TWO_OPS, patch_size=16, length=6, seed=7)
    forward = [ds[i] for i in range(6)]
    backward = [ds[i] for i in reversed(range(6))][::-1]
    for a, b in zip(forward, backward):
        assert torch.equal(a["lq"], b["lq"]) and a["seed"] == b["seed"] and a["level"] == b["level"]
    assert [item["label"] for item in forward] == [0, 1, 0, 1, 0, 1]
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["gt"], forward[0]["gt"]) or ds[0]["seed"] != forward[0]["seed"]
    ds.set_epoch(0)
    assert torch.equal(ds[3]["lq"], forward[3]["lq"])
    assert derive_seed(7, 0, 3) != derive_seed(7, 1, 3) != derive_seed(8, 0, 3)


def test_dataloader_workers_do_not_change_the_data():
    ds = SyntheticDataset(
        [coordinate_image(), coordinate_image(36, 36) * 0.5], TWO_OPS, patch_size=16, length=8, seed=1
    )
    batches = {}
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, num_workers=workers)
        batches[workers] = list(loader)
    for a, b in zip(batches[0], batches[2]):
        for key in ("lq", "gt", "label", "level", "seed"):
            assert torch.equal(a[key], b[key]), key


def test_levels_stay_in_the_class_range_and_replay():
    name = TWO_OPS[0]
    spec = DEGRADATIONS.get(name)
    lo = spec.level_min + 0.25 * (spec.level_max - spec.level_min)
    hi = spec.level_min + 0.5 * (spec.level_max - spec.level_min)
    ds = SyntheticDataset([coordinate_image()], [(name, (lo, hi))], patch_size=16, length=10)
    assert ds.class_names == [name]
    for i in range(10):
        item = ds[i]
        assert lo <= item["level"] <= hi
        replay = ds.classes[0].degrade(item["gt"][None], torch.tensor([item["level"]]), [item["seed"]])[0]
        assert torch.equal(replay, item["lq"])


def test_degrade_batch_equals_the_per_item_path():
    a, b = TWO_OPS
    classes = [a, b, f"{a},{b}"]
    sources = [coordinate_image(), coordinate_image(33, 45).flip(-1)]
    per_item = SyntheticDataset(sources, classes, patch_size=16, length=9, seed=5)
    clean = SyntheticDataset(sources, classes, patch_size=16, length=9, seed=5, degrade_on_device=True)
    assert "lq" not in clean[0]
    batch = next(
        iter(DataLoader(clean, batch_size=9, shuffle=True, generator=torch.Generator().manual_seed(0)))
    )
    out = degrade_batch(batch, clean.classes, "cpu")
    for j in range(9):
        index = [i for i in range(9) if per_item[i]["seed"] == int(batch["seed"][j])][0]
        assert torch.equal(out["gt"][j], per_item[index]["gt"])
        torch.testing.assert_close(out["lq"][j], per_item[index]["lq"], atol=1e-6, rtol=0)


@pytest.mark.gpu
def test_degrade_batch_runs_on_the_gpu():
    classes = TWO_OPS
    clean = SyntheticDataset([coordinate_image()], classes, patch_size=16, length=4, degrade_on_device=True)
    batch = next(iter(DataLoader(clean, batch_size=4)))
    first, second = (degrade_batch(batch, clean.classes, "cuda") for _ in range(2))
    assert first["lq"].is_cuda and torch.equal(first["lq"], second["lq"])
    assert first["lq"].shape == batch["gt"].shape and 0 <= first["lq"].min() <= first["lq"].max() <= 1


def test_small_images_raise_or_are_reflect_padded(tmp_path):
    path = write_image(tmp_path / "tiny.png", coordinate_image(10, 14))
    with pytest.raises(DataError, match=r"tiny\.png is 10x14 pixels, smaller than the 16x16 patch"):
        SyntheticDataset(tmp_path, TWO_OPS[:1], patch_size=16)
    ds = SyntheticDataset([path], TWO_OPS[:1], patch_size=16, pad_small=True, flips=False, rotations=False)
    expected = np.pad(coordinate_image(10, 14).numpy(), ((0, 0), (0, 6), (0, 2)), mode="symmetric")
    np.testing.assert_array_equal(ds.image(0).numpy(), expected)
    assert ds[0]["gt"].shape == (3, 16, 16)


def test_class_specs_are_checked():
    name = TWO_OPS[0]
    spec = DEGRADATIONS.get(name)
    assert DegradationClass.parse(f"{name}:{spec.level_max}").level_range == (spec.level_max, spec.level_max)
    assert DegradationClass.parse({"name": name, "levels": [spec.level_min, spec.level_min]}).name == name
    with pytest.raises(ConfigError, match="out of range"):
        DegradationClass.parse((name, (spec.level_min, spec.level_max + 10)))
    with pytest.raises(ConfigError, match=r"must lie in \[0, 1\]"):
        DegradationClass.parse((f"{name},{name}", (0.0, 2.0)))
    with pytest.raises(DcptError, match="unknown degradation type"):
        DegradationClass.parse("no_such_op")
    with pytest.raises(ConfigError, match="non-empty list"):
        SyntheticDataset([coordinate_image()], [], patch_size=8)


def ramp_image(height=120, width=140):
    """Red = row / 255, green = column / 255, as floats: linear in both directions, so a rescaled
    window is linear again with its slope equal to the shrink factor."""
    yy, xx = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    return torch.stack([yy / 255.0, xx / 255.0, torch.full_like(yy, 0.5)])


def test_scale_range_shrinks_the_window_by_the_drawn_factor():
    ds = SyntheticDataset(
        [ramp_image()],
        TWO_OPS[:1],
        patch_size=16,
        length=12,
        flips=False,
        rotations=False,
        scale_range=(0.5, 0.5),
    )
    for i in range(len(ds)):
        gt = ds[i]["gt"] * 255
        assert gt.shape == (3, 16, 16)
        # away from the border, output pixel j samples the 2 x 2 source block centred at 2 j + 0.5
        rows, cols = gt[0, 1:-1, 5], gt[1, 5, 1:-1]
        torch.testing.assert_close(rows[1:] - rows[:-1], torch.full((13,), 2.0), atol=1e-3, rtol=0)
        torch.testing.assert_close(cols[1:] - cols[:-1], torch.full((13,), 2.0), atol=1e-3, rtol=0)
        top, left = float(rows[0]) - 2.5, float(cols[0]) - 2.5  # row 1 sits at 2 + 0.5 in the window
        assert abs(top - round(top)) < 1e-3 and abs(left - round(left)) < 1e-3
        assert 0 <= round(top) <= 120 - 32 and 0 <= round(left) <= 140 - 32


def test_scale_range_draws_many_scales_and_caps_the_window_at_the_image():
    ds = SyntheticDataset(
        [ramp_image()],
        TWO_OPS[:1],
        patch_size=16,
        length=40,
        flips=False,
        rotations=False,
        scale_range=(0.25, 1.0),
    )
    slopes = {round(float(ds[i]["gt"][1, 5, 12] - ds[i]["gt"][1, 5, 3]) * 255 / 9, 1) for i in range(len(ds))}
    assert len(slopes) > 10 and min(slopes) >= 0.95 and max(slopes) <= 4.05
    tiny = SyntheticDataset(
        [ramp_image(20, 24)],
        TWO_OPS[:1],
        patch_size=16,
        length=4,
        flips=False,
        rotations=False,
        scale_range=(0.25, 0.25),
    )
    gt = tiny[0]["gt"] * 255
    assert gt.shape == (3, 16, 16)  # the window is capped at 20 pixels: a factor of 16 / 20, not 1 / 4
    span = float(gt[0, :, 5].max() - gt[0, :, 5].min())  # 19 for the whole window, less at its blurred ends
    assert 17.0 < span < 19.0


def test_scale_range_off_draws_nothing_and_bad_ranges_are_refused():
    plain = SyntheticDataset([coordinate_image()], TWO_OPS, patch_size=16, length=6, seed=5)
    off = SyntheticDataset([coordinate_image()], TWO_OPS, patch_size=16, length=6, seed=5, scale_range=(1, 1))
    for i in range(6):
        assert torch.equal(plain[i]["lq"], off[i]["lq"]) and plain[i]["seed"] == off[i]["seed"]
    for bad in ((0.0, 1.0), (0.8, 0.5), (0.5, 1.5), "big"):
        with pytest.raises(ConfigError, match="scale_range"):
            SyntheticDataset([coordinate_image()], TWO_OPS[:1], patch_size=16, scale_range=bad)


def test_gamma_range_raises_the_clean_crop_to_the_drawn_power_and_degrades_that():
    """With a one-point range (2, 2) the crop is the plain data set's crop squared, the same window
    (the exponent is drawn last), and `lq` is the degradation of the squared crop, replayed."""
    plain = SyntheticDataset([coordinate_image()], TWO_OPS, patch_size=16, length=6, seed=5)
    squared = SyntheticDataset(
        [coordinate_image()], TWO_OPS, patch_size=16, length=6, seed=5, gamma_range=(2, 2)
    )
    for i in range(6):
        a, b = plain[i], squared[i]
        torch.testing.assert_close(b["gt"], a["gt"] ** 2, rtol=1e-6, atol=0)
        assert a["seed"] == b["seed"] and a["level"] == b["level"]
        levels = torch.tensor([b["level"]], dtype=torch.float64)
        replay = squared.classes[b["label"]].degrade(b["gt"][None], levels, [b["seed"]])[0]
        torch.testing.assert_close(b["lq"], replay)


def test_gamma_range_draws_log_uniform_exponents_and_bad_ranges_are_refused():
    """Recover each item's exponent from a flat grey crop (0.5 ** g) and compare its log with a
    uniform law on [log 0.5, log 2] by a Kolmogorov-Smirnov test (scipy)."""
    from scipy import stats

    grey = torch.full((3, 24, 24), 0.5)
    ds = SyntheticDataset([grey], TWO_OPS[:1], patch_size=8, length=400, gamma_range=(0.5, 2.0))
    gammas = np.array([np.log(float(ds[i]["gt"].mean())) / np.log(0.5) for i in range(len(ds))])
    logs = np.log(gammas)
    assert logs.min() >= np.log(0.5) - 1e-6 and logs.max() <= np.log(2.0) + 1e-6
    assert stats.kstest(logs, stats.uniform(loc=np.log(0.5), scale=np.log(4.0)).cdf).pvalue > 0.01
    for bad in ((0.0, 1.0), (2.0, 0.5), "big"):
        with pytest.raises(ConfigError, match="gamma_range"):
            SyntheticDataset([grey], TWO_OPS[:1], patch_size=8, gamma_range=bad)
