"""The ``relative`` pixel loss: each image's squared error over its input's, against NumPy and calculus."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from dcpt.config import config_from_dict
from dcpt.errors import ConfigError
from dcpt.objectives import RestoreObjective
from dcpt.objectives.restore import psnr_loss, relative_mse_loss

REPO = Path(__file__).resolve().parents[2]


def _images(seed=3):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(3, 3, 8, 8, generator=g, dtype=torch.float64)
    lq = (gt + 0.2 * torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64)).clamp(0, 1)
    pred = (gt + 0.05 * torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64)).clamp(0, 1)
    return pred, gt, lq


def test_relative_loss_is_the_mean_ratio_of_output_to_input_squared_error():
    pred, gt, lq = _images()
    p, g, q = pred.numpy(), gt.numpy(), lq.numpy()
    ratio = ((p - g) ** 2).mean(axis=(1, 2, 3)) / ((q - g) ** 2).mean(axis=(1, 2, 3))
    assert relative_mse_loss(pred, gt, lq).item() == pytest.approx(ratio.mean(), rel=1e-6)
    # a copy of the input scores exactly 1 (the input's own error), a perfect output 0
    assert relative_mse_loss(lq, gt, lq).item() == pytest.approx(1.0, rel=1e-12)
    assert relative_mse_loss(gt, gt, lq).item() == 0.0


def test_relative_loss_keeps_an_image_s_weight_when_the_net_ruins_it_where_psnr_lets_it_fade():
    """d loss / d pred of image i is 2 (pred - gt) / (B n mse(lq_i)): it depends on the input's
    error only. Take image 0's output from an error ten times below its input's to one ten times
    above: under ``relative`` the gradient per unit of error stays the same; under ``psnr`` it
    shrinks ten-thousandfold (1 / mse(pred))."""
    gt = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    lq = torch.full_like(gt, 0.1)  # both inputs at 20 dB
    small = torch.full_like(gt, 0.01)
    ruined = small.clone()
    ruined[0] = 1.0  # image 0 ten times worse than its input
    n = 3 * 4 * 4

    def grads(loss_fn, pred):
        pred = pred.clone().requires_grad_(True)
        loss_fn(pred).backward()
        return pred.grad[0, 0, 0, 0].item() / pred[0, 0, 0, 0].item()  # gradient per unit error

    rel = (
        grads(lambda p: relative_mse_loss(p, gt, lq), small),
        grads(lambda p: relative_mse_loss(p, gt, lq), ruined),
    )
    assert rel[0] == pytest.approx(2 / (2 * n * 0.01), rel=1e-6)
    assert rel[1] == pytest.approx(rel[0], rel=1e-6)
    dbs = grads(lambda p: psnr_loss(p, gt), small), grads(lambda p: psnr_loss(p, gt), ruined)
    assert dbs[1] / dbs[0] == pytest.approx((0.01**2) / (1.0**2), rel=1e-3)


def test_relative_loss_floors_a_clean_input_s_error_at_the_cap():
    gt = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    pred = gt + 0.01  # mse 1e-4
    assert relative_mse_loss(pred, gt, gt.clone(), cap_db=40.0).item() == pytest.approx(1.0, rel=1e-6)
    assert torch.isfinite(relative_mse_loss(pred, gt, gt.clone()))


def test_restore_objective_uses_the_relative_loss_on_the_batch_inputs():
    class Halfway(nn.Module):
        """Moves each input a fixed fraction of the way to a known target, so the ratio is analytic."""

        def __init__(self, gt):
            super().__init__()
            self.gt = gt
            self.scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            return self.gt + self.scale * (x - self.gt)

    pred, gt, lq = _images(5)
    batch = {"lq": lq.float(), "gt": gt.float(), "label": torch.tensor([0, 1, 2])}
    loss, logs = RestoreObjective(pixel_loss="relative")(batch, {"net": Halfway(gt.float())})
    assert loss.item() == pytest.approx(0.25, rel=1e-5)  # error halved: squared error a quarter
    assert logs["relative_loss"].item() == pytest.approx(0.25, rel=1e-5)


def test_config_accepts_relative_and_names_the_choices_for_a_typo():
    raw = yaml.safe_load((REPO / "configs" / "demo-finetune-shipped.yaml").read_text())
    raw["objective"]["pixel_loss"] = "relative"
    assert config_from_dict(raw).objective.pixel_loss == "relative"
    raw["objective"]["pixel_loss"] = "relativ"
    with pytest.raises(ConfigError, match="relative"):
        config_from_dict(raw)
    with pytest.raises(ValueError, match="relative"):
        RestoreObjective(pixel_loss="l2")


def test_relative_weight_adds_that_many_relative_losses_to_the_psnr_loss():
    """``psnr`` plus `relative_weight` x ``relative``, computed here with NumPy from the batch."""
    pred, gt, lq = _images(7)

    class FixedOutput(nn.Module):
        """Returns `pred` whatever its input, so the loss is a function of known arrays."""

        def forward(self, x):
            return pred.float()

    batch = {"lq": lq.float(), "gt": gt.float(), "label": torch.tensor([0, 1, 2])}
    loss, logs = RestoreObjective(pixel_loss="psnr", relative_weight=2.5)(batch, {"net": FixedOutput()})
    p, g, q = pred.float().double().numpy(), gt.float().double().numpy(), lq.float().double().numpy()
    mse, mse_in = ((p - g) ** 2).mean(axis=(1, 2, 3)), ((q - g) ** 2).mean(axis=(1, 2, 3))
    expected = (10 * np.log10(mse)).mean() + 2.5 * (mse / mse_in).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert logs["relative_loss"].item() == pytest.approx((mse / mse_in).mean(), rel=1e-5)
