"""The degradation classifier: official layout, shapes, gradients, and that it can learn."""

import pytest
import torch
import torch.nn.functional as F

from dcpt.errors import DcptError
from dcpt.models.classifier import DegradationClassifier


def pyramid(batch=2, widths=(8, 16, 32), size=16, offset=0.0, generator=None):
    return [
        torch.randn(batch, c, size // 2**k, size // 2**k, generator=generator) + offset
        for k, c in enumerate(widths)
    ]


def test_official_parameter_layout():
    """Names and shapes of MILab-PKU/dcpt `PromptIR_NoImg_DC` (ResNet bottlenecks, LN, widening x2)."""
    clf = DegradationClassifier((64, 128, 256, 512), num_classes=5)
    shapes = {k: tuple(v.shape) for k, v in clf.state_dict().items()}
    conv_keys = ["weight", "norm.weight", "norm.bias"]
    expected = {"mixing_weights", "fc.weight", "fc.bias"}
    for i in range(4):
        expected |= {
            f"bottleneck_layers.{i}.{j}.conv{n}.{k}" for j in range(2) for n in (1, 2, 3) for k in conv_keys
        }
        expected.add(f"downsample_layers.{i}.0.weight")
    expected |= {f"last_stage.{j}.conv{n}.{k}" for j in range(2) for n in (1, 2, 3) for k in conv_keys}
    assert set(shapes) == expected
    assert shapes["bottleneck_layers.0.0.conv1.weight"] == (128, 64, 1, 1)
    assert shapes["bottleneck_layers.0.0.conv2.weight"] == (128, 128, 3, 3)
    assert shapes["bottleneck_layers.3.1.conv3.norm.weight"] == (512,)
    assert shapes["downsample_layers.0.0.weight"] == (128, 64, 1, 1)
    assert shapes["downsample_layers.3.0.weight"] == (512, 512, 1, 1)
    assert shapes["mixing_weights"] == (4,)
    assert shapes["fc.weight"] == (5, 512)


def test_logits_shape_and_gradient_reaches_every_feature():
    clf = DegradationClassifier((8, 16, 32), num_classes=4, blocks_per_scale=1)
    feats = [f.requires_grad_() for f in pyramid()]
    logits = clf(feats)
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    logits.sum().backward()
    for f in feats:
        assert f.grad is not None and torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0
    assert clf.mixing_weights.grad is not None and clf.mixing_weights.grad.abs().sum() > 0


def test_same_resolution_features_and_odd_sizes_are_accepted():
    clf = DegradationClassifier((8, 16, 32), num_classes=3, blocks_per_scale=1)
    same = [torch.randn(2, c, 20, 20) for c in (8, 16, 32)]  # SwinIR-style pyramid
    odd = [torch.randn(2, c, s, s + 2) for c, s in zip((8, 16, 32), (37, 19, 10))]
    assert clf(same).shape == (2, 3)
    assert clf(odd).shape == (2, 3)


def test_mixing_weights_scale_each_feature_by_its_softmax_weight():
    """State after scale 0 is softmax(w)[0] * feature_0 (the official running sum starts at zero)."""
    clf = DegradationClassifier((4,), num_classes=2, blocks_per_scale=1)
    with torch.no_grad():
        clf.mixing_weights.fill_(3.0)  # one scale: softmax weight 1
    f = torch.randn(1, 4, 8, 8)
    seen = []
    clf.bottleneck_layers[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    clf([f])
    torch.testing.assert_close(seen[0], f)


def test_wrong_widths_or_count_raise_one_clear_line():
    clf = DegradationClassifier((8, 16), num_classes=2)
    with pytest.raises(DcptError, match=r"C = \(8, 16\), got shapes \[\(2, 8, 16, 16\)\]"):
        clf([torch.randn(2, 8, 16, 16)])
    with pytest.raises(DcptError, match="num_classes >= 1"):
        DegradationClassifier((8,), num_classes=0)


def test_learns_to_separate_two_feature_distributions():
    torch.manual_seed(0)
    clf = DegradationClassifier((4, 8), num_classes=2, blocks_per_scale=1, expansion=1.0)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)

    def batch():
        a = pyramid(8, (4, 8), 8, offset=-1.0, generator=g)
        b = pyramid(8, (4, 8), 8, offset=1.0, generator=g)
        feats = [torch.cat([x, y]) for x, y in zip(a, b)]
        return feats, torch.tensor([0] * 8 + [1] * 8)

    first = None
    for _ in range(40):
        feats, labels = batch()
        loss = F.cross_entropy(clf(feats), labels)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    feats, labels = batch()
    with torch.no_grad():
        accuracy = (clf(feats).argmax(1) == labels).float().mean().item()
    assert loss.item() < first * 0.8
    assert accuracy == 1.0


def test_encoder_taps_survive_a_checkpoint_and_drive_classification(tmp_path):
    from dcpt.infer.classify import class_probabilities
    from dcpt.models import create_model
    from dcpt.models.checkpoint import load_bundle, save_checkpoint

    torch.manual_seed(0)
    net = create_model("nafnet-tiny").eval()
    clf = DegradationClassifier(net.feature_channels, 3, blocks_per_scale=1, taps="encoder").eval()
    bundle = load_bundle(
        save_checkpoint(net, tmp_path / "c.safetensors", classifier=clf, class_names=list("abc"))
    )
    assert bundle.classifier.taps == "encoder" and bundle.classifier.config["taps"] == "encoder"
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = clf(net.features(x, taps="encoder")).softmax(1)
        decoder = clf(net.features(x)).softmax(1)
    got = class_probabilities(bundle.net.eval(), bundle.classifier.eval(), x)
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, decoder)


def test_transformers_only_give_decoder_taps():
    from dcpt.models import create_model

    net = create_model("restormer-tiny")
    with pytest.raises(DcptError, match="decoder"):
        net.features(torch.rand(1, 3, 16, 16), taps="encoder")


def test_decoder_taps_are_left_out_of_the_config_and_unknown_taps_refused():
    clf = DegradationClassifier((8, 16), 2)
    assert clf.taps == "decoder" and "taps" not in clf.config  # old readers never see a new key
    assert DegradationClassifier(**clf.config).taps == "decoder"
    with pytest.raises(DcptError, match="taps"):
        DegradationClassifier((8, 16), 2, taps="middle")
