"""`dcpt demo --quick` end to end on the shipped checkpoints, its report against scikit-image, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from dcpt.cli import main
from dcpt.data.io import to_numpy
from dcpt.demo import run as demo_run
from dcpt.demo.report import verdict

TYPES = ["gaussian_noise", "rain", "haze", "gaussian_blur", "low_light"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text())


def test_report_json_has_the_documented_shape(quick_run):
    _, report = quick_run
    assert set(report["models"]) == {"scratch", "dcpt", "maskdcpt"}
    for tables in report["models"].values():
        assert set(tables) == {"psnr", "ssim"}
        for metric in tables.values():
            assert list(metric) == TYPES + ["average"]
            assert metric["average"] == pytest.approx(np.mean([metric[t] for t in TYPES]))
            assert all(np.isfinite(v) for v in metric.values())
        assert all(0.0 < v <= 1.0 for v in tables["ssim"].values())
    assert set(report["classifier_accuracy"]) == {"dcpt", "maskdcpt"}
    assert all(0.0 <= v <= 1.0 for v in report["classifier_accuracy"].values())


def test_figures_and_markdown_are_written(quick_run):
    out, _ = quick_run
    for name in ("psnr.png", "grid.png"):
        with Image.open(out / name) as img:
            img.verify()
    with Image.open(out / "grid.png") as img:
        assert img.height > img.width * 0.8  # five rows of five columns, with titles
    md = (out / "report.md").read_text()
    assert "psnr.png" in md and "grid.png" in md and "MaskDCPT" in md and "vs scratch" in md


def test_input_row_matches_scikit_image_psnr(quick_run):
    _, report = quick_run
    options = demo_run.DemoOptions(quick=True, crops_per_image=1)
    types = demo_run.held_out_types(options, demo_run._config("finetune", []))
    for t in types:
        expected = np.mean(
            [
                peak_signal_noise_ratio(to_numpy(gt), to_numpy(lq), data_range=255)
                for lq, gt in zip(t.lq, t.gt)
            ]
        )
        assert report["input"]["psnr"][t.name] == pytest.approx(expected, abs=1e-5)


def test_shipped_configs_are_the_repository_configs():
    for kind in ("finetune", "pretrain-dcpt", "pretrain-maskdcpt"):
        shipped = yaml.safe_load(demo_run.demo_config_path(kind).read_text())
        assert shipped == yaml.safe_load((REPO / "configs" / f"demo-{kind}.yaml").read_text())


def _fails(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dcpt: error:") and needle in err, err


def test_missing_shipped_checkpoint_says_to_pretrain(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo_run, "ASSETS", tmp_path / "nothing")
    _fails(["demo", "--out", str(tmp_path / "o")], capsys, "--pretrain")


def test_bad_step_count_and_out_file(tmp_path, capsys):
    _fails(["demo", "--steps", "0", "--out", str(tmp_path / "o")], capsys, "--steps")
    (tmp_path / "file").write_text("x")
    _fails(["demo", "--out", str(tmp_path / "file")], capsys, "is a file")


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["dcpt", "maskdcpt"])
def test_shipped_classifier_names_held_out_degradations(objective):
    """The shipped fp16 checkpoint, loaded as a user would, names the degradation of held-out 256 px
    crops (measured on 300 such crops: 97.7% DCPT, 98.0% MaskDCPT). A broken load (fp16 cast,
    feature taps, class order) falls to chance, 20%."""
    from dcpt.demo.heldout import classifier_accuracy, held_out_set
    from dcpt.infer.classify import load_classifier

    cfg = yaml.safe_load(demo_run.demo_config_path("finetune").read_text())
    classes = [(c["name"], c) for c in cfg["data"]["val"][0]["classes"]]
    types = held_out_set(classes, crops_per_image=2, crop_size=256, seed=7)
    net, classifier, names = load_classifier(demo_run.shipped_checkpoint(objective))
    assert names == TYPES
    assert classifier_accuracy(net, classifier, names, types) >= 0.8


def test_whole_image_set_degrades_each_test_photograph_whole():
    from dcpt.data import load_samples
    from dcpt.demo.heldout import whole_image_set

    classes = [
        ("gaussian_noise", {"name": "gaussian_noise", "levels": [30, 30]}),
        ("low_light", {"name": "low_light"}),
    ]
    items = whole_image_set(classes, per_image=2, seed=3)
    photos = load_samples("test")
    assert len(items) == len(photos) * len(classes) * 2
    assert [t.name for t in items[:4]] == ["gaussian_noise"] * 2 + ["low_light"] * 2
    (_, first), noisy = photos[0], items[0]
    assert torch.equal(noisy.gt[0], first) and noisy.lq.shape == (1, *first.shape)
    residual = (noisy.lq - noisy.gt)[noisy.gt.gt(0.2) & noisy.gt.lt(0.8)]  # away from clipping
    assert abs(float(residual.std()) * 255 - 30) < 1.5  # sigma 30 on the 0-255 scale
    assert not torch.equal(items[0].lq, items[1].lq)  # two draws, two noise seeds


def test_the_verdict_names_each_gain_and_points_to_the_multi_seed_study():
    def psnr(average):
        return {"psnr": {"average": average}}

    tables = {"input": psnr(18.0), "scratch": psnr(20.0), "dcpt": psnr(19.5), "maskdcpt": psnr(20.05)}
    text = verdict(tables, {})
    assert "DCPT init hurt (-0.50 dB" in text and "MaskDCPT init made no clear difference (+0.05 dB" in text
    assert "not a measurement" in text and "docs/experiments.md" in text
    assert "No net beats the degraded inputs" not in text
