"""Smooth-band augmentation: where the band lies, how smooth it is, how often, and that `lq` degrades it."""

import math

import numpy as np
import pytest
import torch

from dcpt.data import SyntheticDataset
from dcpt.data.smooth_bands import (
    DEPTH,
    EDGE,
    MAX_RAMP,
    RIPPLE,
    TINT,
    add_smooth_band,
    band_mask,
    smooth_field,
)
from dcpt.errors import ConfigError

OPS = ["gaussian_noise", "gaussian_blur"]


def test_the_band_covers_one_side_to_its_drawn_depth_and_leaves_the_rest_exact():
    """Outside the band (and its soft edge) every pixel is the photograph's, bit for bit; inside it
    is the field's. Over many draws each of the four sides is used and depths span `DEPTH`."""
    size, sides, depths = 64, set(), []
    photo = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        smooth_field(g, size)  # add_smooth_band draws the field, then the band
        mask = band_mask(g, size)
        full = mask == 1.0
        rows, cols = full.all(1), full.all(0)
        side = "top" if rows[0] else "bottom" if rows[-1] else "left" if cols[0] else "right"
        sides.add(side)
        depth = int(rows.sum()) if side in ("top", "bottom") else int(cols.sum())
        depths.append(depth / size)
        out = add_smooth_band(torch.Generator().manual_seed(seed), photo)
        kept = mask == 0.0
        assert torch.equal(out[:, kept], photo[:, kept])
        field = smooth_field(torch.Generator().manual_seed(seed), size)
        torch.testing.assert_close(out[:, full], field[:, full], rtol=0, atol=1e-6)
        # a soft edge exists, at most EDGE + 1 pixels wide
        assert int(((mask > 0) & (mask < 1)).any(1 if side in ("left", "right") else 0).sum()) >= 1
        assert int((mask > 0).sum() - full.sum()) <= (EDGE + 1) * size
    assert sides == {"top", "bottom", "left", "right"}
    assert min(depths) >= DEPTH[0] - 2 * EDGE / size and max(depths) <= DEPTH[1] + 1 / size
    assert max(depths) - min(depths) > 0.8 * (DEPTH[1] - DEPTH[0])


def test_the_field_is_smooth_with_the_analytic_bound_on_its_differences():
    """A ramp of at most MAX_RAMP across the crop plus a bilinear ripple of amplitude RIPPLE over
    three cells changes by at most MAX_RAMP / (n - 1) + 2 RIPPLE / ((n - 1) / 3) between neighbours;
    a natural photograph's differences are far larger. Levels cover [0, 1] and a tinted channel
    stays within TINT of the grey level."""
    n = 96
    bound = MAX_RAMP / (n - 1) + 2 * RIPPLE * 3 / (n - 1) + 1e-6
    means = []
    for seed in range(100):
        field = smooth_field(torch.Generator().manual_seed(seed), n)
        assert field.shape == (3, n, n) and 0.0 <= float(field.min()) and float(field.max()) <= 1.0
        assert float(field.diff(dim=1).abs().max()) <= bound
        assert float(field.diff(dim=2).abs().max()) <= bound
        centre = field[:, n // 2, n // 2]
        assert float(centre.max() - centre.min()) <= 2 * TINT * float(centre.max()) + 2 * RIPPLE + 1e-6
        means.append(float(field.mean()))
    assert min(means) < 0.1 and max(means) > 0.9


def test_a_fraction_of_items_gets_a_band_and_lq_degrades_the_banded_crop():
    """`smooth_band_fraction` 0 draws nothing (the same stream as without it); 0.3 changes about 30%
    of the crops (binomial, 400 items) and only them, each `lq` replaying its class on the banded
    crop."""
    photo = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(1))
    plain = SyntheticDataset([photo], OPS, patch_size=32, length=400, seed=3)
    off = SyntheticDataset([photo], OPS, patch_size=32, length=400, seed=3, smooth_band_fraction=0.0)
    banded = SyntheticDataset([photo], OPS, patch_size=32, length=400, seed=3, smooth_band_fraction=0.3)
    changed = 0
    for i in range(400):
        a, b = plain[i], banded[i]
        assert torch.equal(a["lq"], off[i]["lq"])
        assert a["seed"] == b["seed"] and a["level"] == b["level"]
        if not torch.equal(a["gt"], b["gt"]):
            changed += 1
            levels = torch.tensor([b["level"]], dtype=torch.float64)
            replay = banded.classes[b["label"]].degrade(b["gt"][None], levels, [b["seed"]])[0]
            torch.testing.assert_close(b["lq"], replay)
    sd = math.sqrt(400 * 0.3 * 0.7)
    assert abs(changed - 120) < 3.5 * sd


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_a_fraction_outside_zero_one_is_refused(bad):
    with pytest.raises(ConfigError, match="smooth_band_fraction"):
        SyntheticDataset([torch.rand(3, 16, 16)], OPS, patch_size=8, smooth_band_fraction=bad)


def test_the_config_key_reaches_training_crops_only():
    from dcpt.config import config_from_dict
    from dcpt.recipes.data import build_dataset, class_names_of

    raw = {
        "data": {"train": [{"clean": "samples", "classes": [{"name": "gaussian_noise"}]}], "patch_size": 32}
    }
    plain = config_from_dict(raw)
    banded = config_from_dict(raw, ["data.smooth_band_fraction=1"])
    names = class_names_of(plain.data.train)
    for train in (True, False):
        a = build_dataset(plain.data.train, plain.data, names, 32, 4, 0, train=train)[1]["gt"]
        b = build_dataset(banded.data.train, banded.data, names, 32, 4, 0, train=train)[1]["gt"]
        assert torch.equal(a, b) is (not train)
    skipped = config_from_dict(raw, ["data.smooth_band_fraction=1", "data.smooth_band_skip=[gaussian_noise]"])
    c = build_dataset(skipped.data.train, skipped.data, names, 32, 4, 0, train=True)[1]["gt"]
    a = build_dataset(plain.data.train, plain.data, names, 32, 4, 0, train=True)[1]["gt"]
    assert torch.equal(a, c)
    with pytest.raises(ConfigError, match="smooth_band_fraction"):
        config_from_dict(raw, ["data.smooth_band_fraction=2"])
    assert np.isclose(banded.data.smooth_band_fraction, 1.0)


def test_classes_named_in_smooth_band_skip_never_get_a_band():
    """At fraction 1 every crop of the other classes is banded and none of the skipped class's; a
    name that is not a class is refused."""
    photo = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(2))
    plain = SyntheticDataset([photo], OPS, patch_size=32, length=40, seed=4)
    skip = SyntheticDataset(
        [photo],
        OPS,
        patch_size=32,
        length=40,
        seed=4,
        smooth_band_fraction=1.0,
        smooth_band_skip=["gaussian_blur"],
    )
    for i in range(40):
        same = torch.equal(plain[i]["gt"], skip[i]["gt"])
        assert same is (OPS[skip[i]["label"]] == "gaussian_blur")
    with pytest.raises(ConfigError, match="smooth_band_skip"):
        SyntheticDataset([photo], OPS, patch_size=8, smooth_band_fraction=0.5, smooth_band_skip=["haze"])
