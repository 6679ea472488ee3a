"""Sampling ops: the Bayer pattern and bilinear demosaicing (against a hand-built mosaic and OpenCV),
resampling (against OpenCV), inpainting masks, the moire pattern, and the catalogue contract."""

import cv2
import numpy as np
import pytest
import torch

from dcpt import degrade
from dcpt.degrade.core import sample_generators
from dcpt.degrade.sampling import (
    BAYER_PATTERNS,
    RESAMPLE_UP,
    bayer_mosaic,
    demosaic_bilinear,
    down_up,
    hole_mask,
    upsampling_matrix,
)
from dcpt.errors import DcptError


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_bayer_mosaic_keeps_the_pattern_colour_at_each_site(pattern, rng):
    img = rng.random((2, 3, 9, 11))
    expected = np.empty((2, 9, 11))
    for y in range(9):
        for x in range(11):
            colour = pattern[2 * (y % 2) + (x % 2)]
            expected[:, y, x] = img[:, "RGB".index(colour), y, x]
    raw = bayer_mosaic(torch.from_numpy(img), pattern)
    assert raw.shape == (2, 1, 9, 11)
    np.testing.assert_array_equal(raw[:, 0].numpy(), expected)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_demosaic_of_a_constant_image_is_exact(pattern):
    img = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 9, 12)
    out = demosaic_bilinear(bayer_mosaic(img, pattern), pattern)
    torch.testing.assert_close(out, img, rtol=0, atol=1e-6)


def test_demosaic_matches_opencv_bilinear_inside(rng):
    raw8 = (rng.random((20, 26)) * 255).round().astype(np.uint8)
    ref = cv2.cvtColor(raw8, cv2.COLOR_BayerBG2RGB).astype(np.float64) / 255  # OpenCV's name for RGGB
    ours = demosaic_bilinear(torch.from_numpy(raw8 / 255.0)[None, None], "RGGB")[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours[1:-1, 1:-1], ref[1:-1, 1:-1], rtol=0, atol=0.6 / 255)


def test_mosaic_at_level_zero_is_the_plain_round_trip(images):
    out = degrade.apply("mosaic", images, 0.0, generator=_gen())
    torch.testing.assert_close(out, demosaic_bilinear(bayer_mosaic(images)).clamp(0, 1), rtol=0, atol=0)


def test_unknown_bayer_pattern_is_a_user_error():
    with pytest.raises(DcptError, match="RGGB"):
        bayer_mosaic(torch.zeros(1, 3, 8, 8), "RGBG")


def test_resample_of_a_constant_image_is_the_identity():
    img = torch.tensor([0.1, 0.6, 0.95]).view(1, 3, 1, 1).expand(4, 3, 37, 50).contiguous()
    for seed in range(3):
        out = degrade.apply("resample", img, [1.5, 2.7, 5.0, 8.0], generator=_gen(seed))
        torch.testing.assert_close(out, img, rtol=0, atol=3e-6)


def test_down_up_matches_opencv_area_then_linear(rng):
    img = rng.random((32, 48, 3)).astype(np.float32)
    small = cv2.resize(img, (24, 16), interpolation=cv2.INTER_AREA)
    ref = cv2.resize(small, (48, 32), interpolation=cv2.INTER_LINEAR)
    ours = down_up(torch.from_numpy(img).permute(2, 0, 1)[None], 2.0, "area", "bilinear")[0].permute(1, 2, 0)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-5)


def test_inpaint_masks_the_requested_fraction_and_grows_with_it(images):
    fractions = []
    previous = None
    for level in (0.05, 0.2, 0.45):
        out = degrade.apply("inpaint", images, level, generator=_gen(4))
        holes = (out == 0).all(dim=1)
        fractions.append(holes.float().mean(dim=(1, 2)))
        if previous is not None:
            assert torch.all(holes | ~previous)  # a higher level only adds holes
        previous = holes
    for level, got in zip((0.05, 0.2, 0.45), fractions):
        torch.testing.assert_close(got, torch.full_like(got, level), rtol=0, atol=1.0 / (48 * 64))


def test_hole_masks_come_in_both_styles():
    masks = hole_mask(
        torch.full((16,), 0.1), sample_generators(16, "cpu", _gen(1)), 64, 64, "cpu", torch.float32
    )
    # strokes are thin bands, blobs compact: their boundary length per masked pixel differs a lot
    edges = (masks[..., 1:, :] != masks[..., :-1, :]).float().sum(dim=(1, 2, 3)) / masks.sum(dim=(1, 2, 3))
    assert edges.max() > 2 * edges.min()


def test_moire_keeps_the_mean_and_adds_slow_colour_bands():
    grey = torch.full((3, 3, 128, 128), 0.5, dtype=torch.float64)
    out = degrade.apply("moire", grey, 1.0, generator=_gen(2))
    assert torch.all((out.mean(dim=(1, 2, 3)) - 0.5).abs() < 0.02)
    pattern = (out / 0.5 - 1).numpy()
    for sample in pattern:
        power = np.abs(np.fft.fft2(sample[0] - sample[0].mean())) ** 2
        fy, fx = np.unravel_index(np.argmax(power), power.shape)
        fy, fx = min(fy, 128 - fy) / 128, min(fx, 128 - fx) / 128
        assert np.hypot(fy, fx) < 0.1  # the strongest component is a slow band, not pixel texture
        assert np.corrcoef(sample[0].ravel(), sample[1].ravel())[0, 1] < 0.5  # channels are out of phase


@pytest.mark.parametrize("mode", RESAMPLE_UP)
def test_up_sampling_by_matrices_equals_torch_interpolate(mode):
    """`down_up` enlarges with two matrix products; torch's own interpolation is the reference."""
    small = torch.rand(2, 3, 9, 14, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.interpolate(small, size=(37, 45), mode=mode, align_corners=False)
    ours = upsampling_matrix(9, 37, mode, small) @ small @ upsampling_matrix(14, 45, mode, small).T
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
