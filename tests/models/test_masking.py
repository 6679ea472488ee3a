"""Patch masks and the sparse-masking helpers, against numpy references."""

import numpy as np
import pytest
import torch

from dcpt.errors import DcptError
from dcpt.models.masking import (
    apply_mask,
    check_mask,
    fill_from_visible,
    masked_mean,
    random_patch_mask,
    resize_mask,
)


@pytest.mark.parametrize(
    "height,width,patch,ratio", [(37, 53, 16, 0.5), (64, 64, 8, 0.75), (32, 48, 16, 0.3)]
)
def test_random_patch_mask_hides_exactly_round_ratio_patches(height, width, patch, ratio):
    mask = random_patch_mask(3, height, width, patch, ratio, generator=torch.Generator().manual_seed(1))
    assert mask.shape == (3, 1, height, width) and mask.dtype == torch.float32
    gh, gw = -(-height // patch), -(-width // patch)
    grid = mask[:, 0, ::patch, ::patch].numpy()
    assert grid.shape == (3, gh, gw)
    for b in range(3):
        assert int((grid[b] == 0).sum()) == round(ratio * gh * gw)
        # constant inside every patch: the mask is the grid repeated patch x patch, then cropped
        expanded = np.kron(grid[b], np.ones((patch, patch)))[:height, :width]
        np.testing.assert_array_equal(mask[b, 0].numpy(), expanded)


def test_random_patch_mask_is_seeded_and_differs_between_images():
    a = random_patch_mask(4, 64, 64, 16, 0.5, generator=torch.Generator().manual_seed(7))
    b = random_patch_mask(4, 64, 64, 16, 0.5, generator=torch.Generator().manual_seed(7))
    c = random_patch_mask(4, 64, 64, 16, 0.5, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])


def test_random_patch_mask_extremes_and_bad_arguments():
    assert random_patch_mask(1, 20, 20, 4, 0.0).min() == 1
    assert random_patch_mask(1, 20, 20, 4, 1.0).max() == 0
    with pytest.raises(DcptError, match="ratio"):
        random_patch_mask(1, 20, 20, 4, 1.5)
    with pytest.raises(DcptError, match="patch_size"):
        random_patch_mask(1, 20, 20, 0, 0.5)


def test_resize_mask_min_pools_down_and_repeats_up():
    rng = np.random.default_rng(0)
    m = (rng.random((2, 1, 8, 12)) > 0.3).astype(np.float32)
    down = resize_mask(torch.from_numpy(m), (4, 6)).numpy()
    reference = m.reshape(2, 1, 4, 2, 6, 2).min(axis=(3, 5))
    np.testing.assert_array_equal(down, reference)
    up = resize_mask(torch.from_numpy(m), (16, 24)).numpy()
    np.testing.assert_array_equal(up, m.repeat(2, axis=2).repeat(2, axis=3))


def test_masked_mean_averages_visible_positions_only():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    m = (rng.random((2, 1, 5, 7)) > 0.5).astype(np.float32)
    m[1] = 0  # nothing visible -> 0
    out = masked_mean(torch.from_numpy(x), torch.from_numpy(m)).numpy()
    assert out.shape == (2, 3, 1, 1)
    for c in range(3):
        np.testing.assert_allclose(out[0, c, 0, 0], x[0, c][m[0, 0] > 0].mean(), rtol=1e-5)
    np.testing.assert_array_equal(out[1], 0)


def test_apply_mask_zero_and_token():
    x = torch.randn(2, 4, 8, 8)
    mask = random_patch_mask(2, 8, 8, 4, 0.5, generator=torch.Generator().manual_seed(0))
    zeroed = apply_mask(x, mask)
    assert torch.equal(zeroed, x * mask)
    token = torch.arange(4.0)
    filled = apply_mask(x, mask, token)
    hidden = mask[:, 0] == 0
    for c in range(4):
        assert torch.all(filled[:, c][hidden] == c)
        assert torch.equal(filled[:, c][~hidden], x[:, c][~hidden])
    # a mask at image resolution applied to a quarter-size token map
    small = apply_mask(torch.ones(2, 4, 2, 2), mask)
    assert torch.equal(small[:, :1], resize_mask(mask, (2, 2)))
    with pytest.raises(DcptError, match="mask token with 4 values"):
        apply_mask(x, mask, torch.zeros(3))


def test_check_mask_rejects_wrong_shapes():
    x = torch.zeros(2, 3, 8, 8)
    assert check_mask(torch.ones(2, 1, 8, 8, dtype=torch.bool), x).dtype == torch.float32
    with pytest.raises(DcptError, match=r"expected a mask of shape \(2, 1, 8, 8\)"):
        check_mask(torch.ones(2, 8, 8), x)


def test_fill_from_visible_matches_brute_force_window_means():
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 9, 11)).astype(np.float32)
    m = (rng.random((2, 1, 9, 11)) > 0.6).astype(np.float32)
    m[1] = 0.0
    m[1, 0, 0, 0] = 1.0  # second image: one visible pixel, far from most holes
    out = fill_from_visible(torch.from_numpy(x), torch.from_numpy(m), 4).numpy()  # window rounds up to 5
    for b in range(2):
        vis = m[b, 0] > 0
        for i in range(9):
            for j in range(11):
                if vis[i, j]:
                    expected = x[b, :, i, j]
                else:
                    win = vis[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
                    vals = x[b, :, max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3][:, win]
                    expected = vals.mean(1) if vals.size else x[b][:, vis].mean(1)
                np.testing.assert_allclose(out[b, :, i, j], expected, rtol=1e-5, atol=1e-6)
