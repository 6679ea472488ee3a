"""PSNR / SSIM against scikit-image, an analytic value and a hand-computed BT.601 luma.

Why skimage's SSIM is an exact reference for BasicSR's: with ``gaussian_weights=True, sigma=1.5`` skimage
filters with an 11-tap Gaussian (radius ``int(3.5 * 1.5 + 0.5) = 5``), pads by reflection, and then
averages the SSIM map only after cropping ``(11 - 1) // 2 = 5`` pixels from every side. The windows left
all lie wholly inside the image, so its mean is the mean over the valid region that BasicSR's ``_ssim``
uses (it filters and then drops ``[5:-5, 5:-5]``). With ``use_sample_covariance=False`` and
``data_range=255`` the constants match too, and ``channel_axis=-1`` averages the channels as BasicSR does.
"""

import math

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dcpt.errors import DcptError
from dcpt.metrics import psnr, ssim


def sk_ssim(a, b, channel_axis=-1):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=channel_axis,
    )


@pytest.fixture(scope="module")
def pairs():
    """Three clean 48 x 56 RGB uint8 crops and noisy, shifted-brightness copies."""
    rng = np.random.default_rng(0)
    sources = (data.astronaut(), data.coffee(), data.chelsea())
    clean = np.stack([src[100:148, 120:176] for src in sources])
    noise = rng.normal(0, 12, clean.shape) + np.arange(3).reshape(3, 1, 1, 1) * 4
    noisy = np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)
    return clean, noisy


def to_tensor(batch_hwc):
    return torch.from_numpy(batch_hwc).permute(0, 3, 1, 2).float() / 255.0


def hand_luma(img):
    """BT.601 luma (16-235) of an RGB image on the 0-255 scale, written out per channel."""
    r, g, b = (img[..., c].astype(np.float64) / 255.0 for c in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_matches_skimage(pairs, crop):
    clean, noisy = pairs
    for a, b in zip(clean, noisy):
        sl = np.s_[crop : a.shape[0] - crop, crop : a.shape[1] - crop]
        expected = peak_signal_noise_ratio(a[sl], b[sl], data_range=255)
        assert abs(psnr(a, b, crop_border=crop).item() - expected) < 1e-4
        assert (
            abs(psnr(a.astype(np.float32), b.astype(np.float64), crop_border=crop).item() - expected) < 1e-4
        )


def test_psnr_analytic_constant_offset():
    a = np.full((8, 9, 3), 100, dtype=np.uint8)
    assert psnr(a, a + 5).item() == pytest.approx(20 * math.log10(255 / 5), abs=1e-12)


@pytest.mark.parametrize("crop", [0, 3])
def test_ssim_matches_skimage(pairs, crop):
    clean, noisy = pairs
    for a, b in zip(clean, noisy):
        sl = np.s_[crop : a.shape[0] - crop, crop : a.shape[1] - crop]
        assert abs(ssim(a, b, crop_border=crop).item() - sk_ssim(a[sl], b[sl])) < 1e-5


def test_grey_arrays(pairs):
    clean, noisy = pairs
    a, b = clean[0, :, :, 1], noisy[0, :, :, 1]
    assert abs(psnr(a, b).item() - peak_signal_noise_ratio(a, b, data_range=255)) < 1e-4
    assert abs(ssim(a, b).item() - sk_ssim(a, b, channel_axis=None)) < 1e-5


def test_y_channel_matches_hand_luma(pairs):
    clean, noisy = pairs
    for a, b in zip(clean, noisy):
        ya, yb = hand_luma(a), hand_luma(b)
        assert abs(psnr(a, b, y_channel=True).item() - peak_signal_noise_ratio(ya, yb, data_range=255)) < 1e-4
        assert abs(ssim(a, b, y_channel=True).item() - sk_ssim(ya, yb, channel_axis=None)) < 1e-5
    white, black = np.full((1, 1, 3), 255.0), np.zeros((1, 1, 3))
    assert psnr(white, black, y_channel=True).item() == pytest.approx(
        10 * math.log10(255**2 / (235 - 16) ** 2)
    )


@pytest.mark.parametrize("y_channel", [False, True])
def test_torch_batch_matches_numpy_and_per_image(pairs, y_channel):
    clean, noisy = pairs
    gt, lq = to_tensor(clean), to_tensor(noisy)
    batch_psnr = psnr(lq, gt, crop_border=2, y_channel=y_channel)
    batch_ssim = ssim(lq, gt, crop_border=2, y_channel=y_channel)
    assert batch_psnr.shape == (3,) and batch_ssim.shape == (3,)
    for i in range(3):
        np_psnr = psnr(noisy[i], clean[i], crop_border=2, y_channel=y_channel).item()
        np_ssim = ssim(noisy[i], clean[i], crop_border=2, y_channel=y_channel).item()
        # float32 [0, 1] tensors hold uint8 / 255 to ~1e-8, far inside these tolerances
        assert abs(batch_psnr[i].item() - np_psnr) < 1e-4
        assert abs(batch_ssim[i].item() - np_ssim) < 1e-6
        single_psnr = psnr(lq[i], gt[i], crop_border=2, y_channel=y_channel)
        single_ssim = ssim(lq[i], gt[i], crop_border=2, y_channel=y_channel)
        assert single_psnr.shape == (1,) and single_ssim.shape == (1,)
        assert abs(single_psnr.item() - batch_psnr[i].item()) < 1e-9
        assert abs(single_ssim.item() - batch_ssim[i].item()) < 1e-12


def test_identical_images_give_inf_psnr_and_unit_ssim(pairs):
    clean, _ = pairs
    assert psnr(clean[0], clean[0]).item() == math.inf
    gt = to_tensor(clean)
    assert torch.isinf(psnr(gt, gt)).all()
    assert torch.allclose(ssim(gt, gt), torch.ones(3, dtype=torch.float64))


def test_user_mistakes_raise(pairs):
    clean, noisy = pairs
    with pytest.raises(DcptError, match="differ in shape"):
        psnr(clean[0], noisy[0, :-1])
    with pytest.raises(DcptError, match="differ in shape"):
        ssim(to_tensor(clean), to_tensor(noisy)[:2])
    with pytest.raises(DcptError, match="numpy arrays or two torch tensors"):
        psnr(clean[0], to_tensor(clean)[0])
    with pytest.raises(DcptError, match="at least 11 x 11"):
        ssim(clean[0, :12, :12], noisy[0, :12, :12], crop_border=1)
    with pytest.raises(DcptError, match="leaves no pixels"):
        psnr(clean[0, :4, :4], noisy[0, :4, :4], crop_border=2)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_every_input_kind_returns_one_float64_value_per_image(pairs, metric):
    """One return type: a numpy image, a 3-D tensor and a batch all give a (B,) float64 tensor."""
    clean, noisy = pairs
    gt, lq = to_tensor(clean), to_tensor(noisy)
    for a, b, batch in ((noisy[0], clean[0], 1), (lq[0], gt[0], 1), (lq, gt, 3), (lq[:1], gt[:1], 1)):
        value = metric(a, b)
        assert isinstance(value, torch.Tensor)
        assert value.shape == (batch,) and value.dtype == torch.float64
