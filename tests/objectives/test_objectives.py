"""Each objective's loss on a hand-built batch equals a hand computation; gradients go where they should."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dcpt.errors import ConfigError
from dcpt.models import create_model
from dcpt.models.classifier import DegradationClassifier
from dcpt.models.masking import random_patch_mask
from dcpt.objectives import DcptObjective, MaskDcptObjective, RestoreObjective


class TinyNet(nn.Module):
    """Two convs; features = [first conv output]; forward_masked records what it was given."""

    feature_channels = (4,)
    mask_patch_size = 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1)
        self.seen = []

    def features(self, x):
        return [self.conv1(x)]

    def forward(self, x):
        return x + self.conv2(self.conv1(x))

    def forward_masked(self, x, mask, through="all"):
        self.seen.append((x, mask, through))
        f = self.conv1(x * mask)
        return x * mask + self.conv2(f), [f]


class SpyClassifier(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.fc = nn.Linear(4, classes)
        self.inputs = []

    def forward(self, features):
        self.inputs.append(features)
        return self.fc(features[0].mean((2, 3)))


def _batch():
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(3, 3, 8, 8, generator=g)
    return {"lq": (gt * 0.5 + 0.2).clamp(0, 1), "gt": gt, "label": torch.tensor([0, 2, 1])}


def _ce(logits, labels):
    """Cross-entropy written out: mean of log(sum(exp z)) - z_label."""
    z = logits.detach().double().numpy()
    return float(np.mean([math.log(np.exp(row).sum()) - row[y] for row, y in zip(z, labels.tolist())]))


def test_dcpt_loss_is_weighted_ce_plus_l1():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    loss, logs = DcptObjective(cls_weight=0.7, rec_weight=2.0)(batch, {"net": net, "classifier": cls})
    logits = cls.fc(net.conv1(batch["lq"]).mean((2, 3)))
    ce = _ce(logits, batch["label"])
    l1 = float(np.abs(net(batch["gt"]).detach().numpy() - batch["gt"].numpy()).mean())
    assert loss.item() == pytest.approx(0.7 * ce + 2.0 * l1, rel=1e-5)
    assert logs["cls_loss"].item() == pytest.approx(ce, rel=1e-5)
    assert logs["rec_loss"].item() == pytest.approx(l1, rel=1e-5)
    assert logs["acc"].item() == pytest.approx(np.mean(logits.argmax(1).numpy() == batch["label"].numpy()))


@pytest.mark.parametrize("taps", ["decoder", "encoder"])
def test_dcpt_one_pass_over_lq_and_gt_equals_the_two_passes_written_out(taps):
    """NAFNet runs DCPT's two forward passes as one over [lq; gt]: the loss and every gradient must be
    those of net.features(lq) and net(gt) computed separately (in float64; the objective casts the scores to float32)."""
    torch.manual_seed(0)
    net = create_model("nafnet-tiny").double()
    cls = DegradationClassifier(net.feature_channels, 5, taps=taps).double()
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(3, 3, 32, 32, generator=g, dtype=torch.float64)
    batch = {"lq": (gt + 0.1 * torch.randn(gt.shape, generator=g, dtype=torch.float64)).clamp(0, 1), "gt": gt}
    batch["label"] = torch.tensor([0, 3, 4])
    loss, _ = DcptObjective(cls_weight=0.7, rec_weight=2.0)(batch, {"net": net, "classifier": cls})
    grads = torch.autograd.grad(loss, [*net.parameters(), *cls.parameters()])
    kwargs = {} if taps == "decoder" else {"taps": taps}
    logits = cls(net.features(batch["lq"], **kwargs))
    ref = 0.7 * torch.nn.functional.cross_entropy(logits, batch["label"]) + 2.0 * (net(gt) - gt).abs().mean()
    ref_grads = torch.autograd.grad(ref, [*net.parameters(), *cls.parameters()])
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)  # the objective scores in float32
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_classifier_sees_features_only_and_ce_reaches_net_through_them():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    loss, _ = DcptObjective(cls_weight=1.0, rec_weight=0.0)(batch, {"net": net, "classifier": cls})
    (features,) = cls.inputs
    assert (
        len(features) == 1 and features[0].shape[1] == 4
    )  # the 4-channel feature map, not the 3-channel image
    assert all(f.grad_fn is not None for f in features)
    loss.backward()
    assert net.conv1.weight.grad.abs().sum() > 0 and cls.fc.weight.grad.abs().sum() > 0
    assert net.conv2.weight.grad is None  # the CE term touches only what features() uses

    net, cls = TinyNet(), SpyClassifier()
    loss, _ = DcptObjective(cls_weight=0.0, rec_weight=1.0)(batch, {"net": net, "classifier": cls})
    loss.backward()
    assert net.conv2.weight.grad.abs().sum() > 0
    assert cls.fc.weight.grad is None or cls.fc.weight.grad.abs().sum() == 0


def test_maskdcpt_masks_with_its_own_seeded_generator():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    objective = MaskDcptObjective(cls_weight=1.5, rec_weight=0.5, mask_ratio=0.5)
    objective.generator.manual_seed(42)
    loss, logs = objective(batch, {"net": net, "classifier": cls})
    expected_mask = random_patch_mask(3, 8, 8, 4, 0.5, generator=torch.Generator().manual_seed(42))
    x, mask, through = net.seen[0]
    assert torch.equal(mask, expected_mask) and torch.equal(x, batch["lq"]) and through == "all"
    assert torch.equal(mask.mean((1, 2, 3)), torch.full((3,), 0.5))
    y, (f,) = x * mask + net.conv2(net.conv1(x * mask)), [net.conv1(x * mask)]
    ce = _ce(cls.fc(f.mean((2, 3))), batch["label"])
    # as released, the mask reaches the decoder: only visible pixels can be restored, only they are scored
    err = np.abs(y.detach().numpy() - batch["gt"].numpy())
    visible = np.broadcast_to(mask.numpy() == 1, err.shape)
    l1 = float(err[visible].mean())
    assert l1 != pytest.approx(float(err.mean()), rel=1e-3)
    assert loss.item() == pytest.approx(1.5 * ce + 0.5 * l1, rel=1e-5)
    assert logs["rec_loss"].item() == pytest.approx(l1, rel=1e-5)


def test_maskdcpt_encoder_only_variant_scores_every_pixel():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    objective = MaskDcptObjective(mask_through="encoder")
    objective.generator.manual_seed(42)
    _, logs = objective(batch, {"net": net, "classifier": cls})
    x, mask, through = net.seen[0]
    y = x * mask + net.conv2(net.conv1(x * mask))
    assert through == "encoder"
    assert logs["rec_loss"].item() == pytest.approx(
        float(np.abs(y.detach().numpy() - batch["gt"].numpy()).mean()), rel=1e-5
    )
    with pytest.raises(ConfigError, match="mask_through"):
        MaskDcptObjective(mask_through="decoder")


def test_maskdcpt_release_loss_ignores_the_target_at_masked_pixels():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    objective = MaskDcptObjective(rec_weight=1.0, cls_weight=0.0)
    objective.generator.manual_seed(3)
    loss, _ = objective(batch, {"net": net, "classifier": cls})
    mask = net.seen[0][1]
    changed = dict(batch, gt=batch["gt"] * mask + (1 - mask) * torch.rand_like(batch["gt"]))
    objective.generator.manual_seed(3)
    loss_changed, _ = objective(changed, {"net": net, "classifier": cls})
    assert loss_changed.item() == pytest.approx(loss.item(), rel=1e-6)


def test_maskdcpt_zero_mode_blanks_the_input_and_runs_dense():
    net, cls, batch = TinyNet(), SpyClassifier(), _batch()
    objective = MaskDcptObjective(mask_mode="zero", mask_patch=2, mask_ratio=0.25)
    objective(batch, {"net": net, "classifier": cls})
    x, mask, _ = net.seen[0]
    assert torch.equal(mask, torch.ones_like(mask))
    assert (x == 0).float().mean() >= 0.25 - 1e-6


def test_maskdcpt_token_mode_needs_a_token():
    with pytest.raises(ConfigError, match="mask token"):
        MaskDcptObjective(mask_mode="token").check_net(TinyNet())


def test_restore_l1_and_fft_term_match_numpy():
    net, batch = TinyNet(), _batch()
    loss, logs = RestoreObjective(freq_weight=0.1)(batch, {"net": net})
    out = net(batch["lq"]).detach().double().numpy()
    gt = batch["gt"].double().numpy()
    l1 = np.abs(out - gt).mean()
    diff = np.fft.fft2(out, norm="ortho") - np.fft.fft2(gt, norm="ortho")
    freq = np.concatenate([np.abs(diff.real), np.abs(diff.imag)]).mean()
    assert logs["l1"].item() == pytest.approx(l1, rel=1e-5)
    assert logs["freq_loss"].item() == pytest.approx(freq, rel=1e-4)
    assert loss.item() == pytest.approx(l1 + 0.1 * freq, rel=1e-5)


def test_restore_psnr_loss_is_minus_the_mean_per_image_psnr_and_weighs_images_by_relative_error():
    net, batch = TinyNet(), _batch()
    loss, logs = RestoreObjective(pixel_loss="psnr")(batch, {"net": net})
    out = net(batch["lq"]).detach().double().numpy()
    mse = ((out - batch["gt"].double().numpy()) ** 2).mean(axis=(1, 2, 3))
    assert loss.item() == pytest.approx(np.mean(10 * np.log10(mse)), rel=1e-5)
    assert "l1" in logs  # still logged, for comparison with L1 runs
    # d loss / d out is 10 / ln 10 * 2 (out - gt) / (N mse) per image: halving an image's error
    # everywhere lowers the loss by the same 6.02 / B dB, whatever the size of that error
    gt = torch.zeros(2, 3, 4, 4)
    pred = torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), 0.05)])
    half = pred.clone()
    half[0] /= 2
    other = pred.clone()
    other[1] /= 2
    from dcpt.objectives.restore import psnr_loss

    drop = psnr_loss(pred, gt) - psnr_loss(half, gt)
    assert drop.item() == pytest.approx(psnr_loss(pred, gt).item() - psnr_loss(other, gt).item(), rel=1e-4)
    assert drop.item() == pytest.approx(10 * math.log10(4) / 2, rel=1e-4)
    with pytest.raises(ValueError, match="pixel_loss"):
        RestoreObjective(pixel_loss="l2")


def test_restore_l1_weight_adds_that_many_l1_to_the_psnr_loss():
    """The shipped demo recipe's loss: minus the mean per-image PSNR plus l1_weight x the batch L1,
    computed here with NumPy."""
    net, batch = TinyNet(), _batch()
    loss, _ = RestoreObjective(pixel_loss="psnr", l1_weight=40.0)(batch, {"net": net})
    out = net(batch["lq"]).detach().double().numpy()
    gt = batch["gt"].double().numpy()
    mse = ((out - gt) ** 2).mean(axis=(1, 2, 3))
    expected = np.mean(10 * np.log10(mse)) + 40.0 * np.abs(out - gt).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_restore_psnr_cap_bounds_a_perfect_image_at_the_cap_and_leaves_real_errors_alone():
    """With ``psnr_cap_db`` a copy of a clean input scores exactly the cap (not +inf) with a finite
    gradient, and an image at 20 dB moves by under 0.005 dB (NumPy reference)."""
    from dcpt.objectives.restore import psnr_loss

    gt = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    pred = gt.clone()
    pred[1] += 0.1  # mse 0.01: 20 dB
    pred.requires_grad_(True)
    loss = psnr_loss(pred, gt, cap_db=50.0)
    loss.backward()
    assert loss.item() == pytest.approx((-50.0 + 10 * np.log10(0.01 + 1e-5)) / 2, rel=1e-6)
    assert abs(10 * np.log10(0.01 + 1e-5) - (-20.0)) < 0.005
    assert torch.isfinite(pred.grad).all()
    net, batch = TinyNet(), _batch()
    capped, _ = RestoreObjective(pixel_loss="psnr", psnr_cap_db=30.0)(batch, {"net": net})
    out = net(batch["lq"]).detach().double().numpy()
    mse = ((out - batch["gt"].double().numpy()) ** 2).mean(axis=(1, 2, 3))
    assert capped.item() == pytest.approx(np.mean(10 * np.log10(mse + 1e-3)), rel=1e-5)


def test_restore_evaluate_is_psnr_per_image():
    net, batch = TinyNet(), _batch()
    psnr = RestoreObjective().evaluate(batch, {"net": net})["psnr"]
    out = np.round(net(batch["lq"]).clamp(0, 1).detach().numpy() * 255)  # BasicSR convention: 8-bit values
    gt = np.round(batch["gt"].numpy() * 255)
    mse = ((out - gt) ** 2).mean(axis=(1, 2, 3))
    assert psnr.shape == (3,)
    assert np.allclose(psnr.numpy(), 10 * np.log10(255.0**2 / mse), atol=0.05)


@pytest.mark.parametrize("objective", [DcptObjective(), MaskDcptObjective()])
def test_real_nafnet_every_parameter_gets_a_gradient(objective):
    torch.manual_seed(0)
    net = create_model("nafnet-tiny", width=8, enc_blk_nums=(1, 1), dec_blk_nums=(1, 1))
    cls = DegradationClassifier(net.feature_channels, 3)
    loss, _ = objective(
        _batch() | {"lq": _batch()["lq"].repeat(1, 1, 2, 2), "gt": _batch()["gt"].repeat(1, 1, 2, 2)},
        {"net": net, "classifier": cls},
    )
    loss.backward()
    missing = [n for n, p in [*net.named_parameters(), *cls.named_parameters()] if p.grad is None]
    assert missing == []


def test_focal_loss_matches_formula_and_reduces_to_ce():
    from dcpt.objectives.dcpt import classification_loss

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    labels = torch.tensor([0, 1])
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    py = p[[0, 1], [0, 1]]
    assert classification_loss(logits, labels, 2.0).item() == pytest.approx(
        np.mean(-((1 - py) ** 2) * np.log(py)), rel=1e-5
    )
    assert classification_loss(logits, labels, 0.0).item() == pytest.approx(_ce(logits, labels), rel=1e-6)


def test_encoder_tap_classifier_reads_encoder_features_in_both_objectives():
    torch.manual_seed(0)
    net = create_model("nafnet-tiny")
    cls = DegradationClassifier(net.feature_channels, 3, blocks_per_scale=1, taps="encoder")
    g = torch.Generator().manual_seed(2)
    gt = torch.rand(3, 3, 32, 32, generator=g)
    batch = {"lq": (gt * 0.5 + 0.2).clamp(0, 1), "gt": gt, "label": torch.tensor([0, 2, 1])}
    nets = {"net": net, "classifier": cls}

    objective = MaskDcptObjective(mask_ratio=0.5, mask_through="encoder")
    objective.generator.manual_seed(7)
    loss, logs = objective(batch, nets)
    mask = random_patch_mask(3, 32, 32, net.mask_patch_size, 0.5, generator=torch.Generator().manual_seed(7))
    y, feats = net.forward_masked(batch["lq"], mask, taps="encoder", through="encoder")
    expected = _ce(cls(feats), batch["label"]) + (y - gt).abs().mean().item()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    _, decoder_feats = net.forward_masked(batch["lq"], mask, through="encoder")
    assert logs["cls_loss"].item() != pytest.approx(_ce(cls(decoder_feats), batch["label"]), rel=1e-3)

    loss, logs = DcptObjective(rec_weight=0.0)(batch, nets)
    assert logs["cls_loss"].item() == pytest.approx(
        _ce(cls(net.features(batch["lq"], taps="encoder")), batch["label"]), rel=1e-5
    )
    with torch.no_grad():
        hits = DcptObjective().evaluate(batch, nets)["acc"]
        logits = cls(net.features(batch["lq"], taps="encoder"))
    assert torch.equal(hits, (logits.argmax(1) == batch["label"]).float())


def test_maskdcpt_release_masking_refuses_a_patch_the_net_would_coarsen():
    net = create_model("nafnet-tiny")  # 4 levels: a patch must cover whole 16-pixel cells
    MaskDcptObjective(mask_patch=32).check_net(net)
    MaskDcptObjective(mask_patch=8, mask_through="encoder").check_net(net)
    with pytest.raises(ConfigError, match="multiple of the net's mask patch"):
        MaskDcptObjective(mask_patch=8).check_net(net)
