"""``objective.ssim_weight``: ``1 - SSIM`` added to the pixel loss, checked against scikit-image's SSIM."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from skimage.metrics import structural_similarity

from dcpt.config import config_from_dict
from dcpt.errors import ConfigError
from dcpt.metrics.ssim import ssim_of_batches
from dcpt.objectives import RestoreObjective, build_objective
from dcpt.objectives.restore import ssim_loss

REPO = Path(__file__).resolve().parents[2]


def _pair(seed=5, size=24):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, size, size, generator=g)
    pred = (gt + 0.1 * torch.randn(2, 3, size, size, generator=g)).clamp(0, 1)
    return pred, gt


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s SSIM as scikit-image computes it: Gaussian window sigma 1.5 (11 taps), population
    statistics, the valid region only, averaged over the channels."""
    return structural_similarity(
        a * 255.0, b * 255.0, data_range=255.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )  # fmt: skip


def _skimage_mean_ssim(pred: torch.Tensor, gt: torch.Tensor) -> float:
    return float(np.mean([_skimage_ssim(p, g) for p, g in zip(pred.double().numpy(), gt.double().numpy())]))


def test_ssim_loss_is_one_minus_scikit_image_ssim_on_unrounded_images():
    pred, gt = _pair()
    assert ssim_loss(pred, gt).item() == pytest.approx(1.0 - _skimage_mean_ssim(pred, gt), abs=1e-5)
    assert ssim_loss(gt, gt).item() == pytest.approx(0.0, abs=1e-6)


def test_ssim_gradient_matches_finite_differences():
    """The loss trains through `ssim_of_batches`; its autograd gradient (in float64) must agree with
    central finite differences of the SSIM itself."""
    pred, gt = _pair(size=14)
    pred = pred.double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ssim_of_batches(x * 255.0, gt.double() * 255.0), (pred,))


def test_ssim_weight_adds_that_many_ssim_losses_to_the_psnr_loss():
    """Minus the PSNR (NumPy) plus 10 x (1 - SSIM) (scikit-image), both computed outside dcpt."""
    pred, gt = _pair()

    class FixedOutput(torch.nn.Module):
        def forward(self, lq):
            return pred

    batch = {"lq": gt, "gt": gt}
    loss, logs = RestoreObjective(pixel_loss="psnr", ssim_weight=10.0)(batch, {"net": FixedOutput()})
    p, g = pred.double().numpy(), gt.double().numpy()
    minus_psnr = (10 * np.log10(((p - g) ** 2).mean(axis=(1, 2, 3)))).mean()
    structure = 1.0 - _skimage_mean_ssim(pred, gt)
    assert logs["ssim_loss"].item() == pytest.approx(structure, abs=1e-5)
    assert loss.item() == pytest.approx(minus_psnr + 10.0 * structure, abs=1e-4)


def test_ssim_weight_config_reaches_the_objective_and_refuses_a_negative_weight():
    raw = yaml.safe_load((REPO / "configs" / "demo-finetune-shipped.yaml").read_text())
    raw["objective"]["ssim_weight"] = 5
    assert build_objective(config_from_dict(raw).objective).ssim_weight == 5
    raw["objective"]["ssim_weight"] = -1
    with pytest.raises(ConfigError, match="ssim_weight"):
        config_from_dict(raw)
