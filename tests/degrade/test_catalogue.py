"""One parametrised test suite over every registered degradation (timm's test_models habit).

Whatever is registered when the tests run is checked against the contract in `dcpt.degrade.core`: shape,
dtype and range; purity; same seed -> same bytes; a batch with per-sample levels equals one-by-one calls
with one shared generator; a higher level is strictly worse (mean PSNR over real photographs falls over
`spec.sheet_levels()`); out-of-range levels are refused with the range in the message.
"""

import json

import numpy as np
import pytest
import torch
from skimage import data

from dcpt.cli import main
from dcpt.degrade import DEGRADATIONS, apply
from dcpt.degrade.core import FAMILIES
from dcpt.errors import DcptError
from dcpt.metrics import psnr

NAMES = DEGRADATIONS.names()
MIN_TYPES = 19


@pytest.fixture(scope="module")
def crops():
    """Four 64 x 64 crops of real photographs (textured, smooth, dark and bright areas), 4 x 3 x 64 x 64."""
    boxes = (
        (data.astronaut(), 40, 180),
        (data.astronaut(), 300, 300),
        (data.coffee(), 120, 250),
        (data.chelsea(), 60, 120),
    )
    tiles = [img[top : top + 64, left : left + 64] for img, top, left in boxes]
    return (torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float() / 255.0).contiguous()


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def test_catalogue_is_complete():
    """Passes once every family module has landed: the paper's 19 types, all seven families."""
    families = {spec.family for _, spec in DEGRADATIONS.items()}
    assert len(NAMES) >= MIN_TYPES, f"only {len(NAMES)} types registered: {NAMES}"
    assert families == set(FAMILIES), f"missing families: {sorted(set(FAMILIES) - families)}"


def test_list_json_describes_every_op(capsys):
    assert main(["degrade", "--list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries] == NAMES
    for entry in entries:
        assert {"name", "family", "level_min", "level_max", "description"} <= set(entry)
        assert entry["family"] in FAMILIES
        assert entry["level_min"] < entry["level_max"]
        assert len(entry["description"]) > 20, f"{entry['name']}: say what a level means and its units"


@pytest.mark.parametrize("name", NAMES)
def test_contract_shape_dtype_range_purity(name, crops):
    spec = DEGRADATIONS.get(name)
    before = crops.clone()
    out = apply(name, crops, spec.sheet_levels()[2], generator=seeded(0))
    assert torch.equal(crops, before), "ops must not modify their input"
    assert out.shape == crops.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    odd = apply(name, crops[:1, :, :37, :45].double(), spec.level_min, generator=seeded(0))
    assert odd.shape == (1, 3, 37, 45) and odd.dtype == torch.float64
    single = apply(name, crops[0], spec.level_max, generator=seeded(0))
    assert single.shape == crops[0].shape


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_and_batch_equals_one_by_one(name, crops):
    """Exact bytes: a sample's degradation depends only on its own seed and level (docs/architecture.md)."""
    spec = DEGRADATIONS.get(name)
    levels = torch.linspace(spec.level_min, spec.level_max, len(crops))
    first = apply(name, crops, levels, generator=seeded(5))
    again = apply(name, crops, levels, generator=seeded(5))
    assert torch.equal(first, again), "same generator seed must give identical bytes on CPU"
    shared = seeded(5)
    one_by_one = torch.cat(
        [apply(name, crops[i : i + 1], levels[i], generator=shared) for i in range(len(crops))]
    )
    assert torch.equal(first, one_by_one)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_one_by_one_on_odd_sizes(name):
    """37 x 45 and 1 x 13 images: tensor lengths that are no multiple of a SIMD block (camera_noise's
    transfer curve differed by an ulp between a batch and single images)."""
    spec = DEGRADATIONS.get(name)
    for height, width in ((37, 45), (1, 13)):
        img = torch.rand(3, 3, height, width, generator=seeded(2))
        batch = apply(name, img, spec.level_max, generator=seeded(0))
        shared = seeded(0)
        one_by_one = torch.cat(
            [apply(name, img[i : i + 1], spec.level_max, generator=shared) for i in range(len(img))]
        )
        assert torch.equal(batch, one_by_one)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_images_and_float64(name):
    """An 8 x 9 image (below most kernel and patch sizes) keeps its shape and dtype and is degraded."""
    img = torch.rand(2, 3, 8, 9, generator=seeded(0), dtype=torch.float64)
    out = apply(name, img, DEGRADATIONS.get(name).level_max, generator=seeded(0))
    assert out.shape == img.shape and out.dtype == torch.float64 and torch.isfinite(out).all()
    assert (out - img).abs().max() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("height, width", [(1, 1), (1, 13), (13, 1)])
def test_one_pixel_high_or_wide_images(name, height, width):
    """Every size the reader accepts, down to 1 x 1, is degraded (mosaic and raindrop raised a padding
    RuntimeError on one-pixel-high images), at both ends of the level range."""
    img = torch.rand(2, 3, height, width, generator=seeded(1))
    spec = DEGRADATIONS.get(name)
    for level in (spec.level_min, spec.level_max):
        out = apply(name, img, level, generator=seeded(0))
        assert out.shape == img.shape and torch.isfinite(out).all()
        assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("text", ["gaussian_blur:3,", ",jpeg:40", "gaussian_blur:3,,jpeg:40", "haze, ,rain"])
def test_an_empty_stage_in_a_mixture_is_refused(text):
    with pytest.raises(DcptError, match="empty stage"):
        apply(text, torch.rand(3, 8, 8), generator=seeded(0))


@pytest.mark.parametrize("name", NAMES)
def test_higher_level_is_worse(name, crops):
    levels = DEGRADATIONS.get(name).sheet_levels()
    scores = []
    for level in levels:
        out = apply(name, crops, level, generator=seeded(1))
        scores.append(psnr(out, crops).clamp(max=100).mean().item())
    assert scores[0] > scores[1] > scores[2], f"mean PSNR {scores} (dB) at levels {levels} must fall"
    assert scores[0] < 45, f"the lowest sheet level barely degrades: {scores} dB"


@pytest.mark.parametrize("name", NAMES)
def test_out_of_range_levels_state_the_range(name, crops):
    spec = DEGRADATIONS.get(name)
    span = spec.level_max - spec.level_min
    expected = f"[{spec.level_min:g}, {spec.level_max:g}]"
    for bad in (spec.level_min - 0.5 * span - 1, spec.level_max + 0.5 * span + 1):
        with pytest.raises(DcptError, match=expected.replace("[", r"\[").replace("]", r"\]")):
            apply(name, crops[:1], bad, generator=seeded(0))
    with pytest.raises(DcptError, match="level"):
        apply(name, crops[:2], [spec.level_min, float("nan")], generator=seeded(0))


@pytest.mark.parametrize("name", NAMES)
def test_memory_layout_does_not_change_the_result(name, crops):
    """A channels-last or sliced input (as conv outputs and crops often are) gives the same bytes."""
    level = DEGRADATIONS.get(name).sheet_levels()[1]
    assert crops.is_contiguous()
    expected = apply(name, crops, level, generator=seeded(2))
    channels_last = crops.to(memory_format=torch.channels_last)
    assert not channels_last.is_contiguous()
    torch.testing.assert_close(
        apply(name, channels_last, level, generator=seeded(2)), expected, atol=1e-5, rtol=0
    )
    wide = torch.cat([crops, crops], dim=-1)[..., :64]
    torch.testing.assert_close(apply(name, wide, level, generator=seeded(2)), expected, atol=1e-5, rtol=0)
