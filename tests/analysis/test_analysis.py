"""dcpt.analysis and `dcpt analyse`: kNN probe against scikit-learn, pooled widths, CLI outputs."""

import json

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dcpt.analysis import collect_features, concat_levels, knn_accuracy
from dcpt.cli import main
from dcpt.errors import DataError
from dcpt.models import create_model
from dcpt.models.checkpoint import save_checkpoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _clusters(rng, classes=4, per_class=30, dim=12, spread=0.05):
    centres = rng.normal(size=(classes, dim)) * 5
    labels = np.repeat(np.arange(classes), per_class)
    return centres[labels] + rng.normal(scale=spread, size=(labels.size, dim)), labels


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_separable_clusters_score_one(rng, metric):
    features, labels = _clusters(rng)
    assert knn_accuracy(features, labels, k=5, metric=metric, folds=5, seed=0) == 1.0


def test_shuffled_labels_score_near_chance(rng):
    features, labels = _clusters(rng, classes=4, per_class=50)
    shuffled = rng.permutation(labels)
    acc = knn_accuracy(features, shuffled, k=5, folds=5, seed=0)
    assert abs(acc - 0.25) < 0.12


@pytest.mark.parametrize("k, metric, folds, seed", [(3, "cosine", 5, 0), (7, "euclidean", 4, 3)])
def test_equals_sklearn_cross_val_score(rng, k, metric, folds, seed):
    features, labels = _clusters(rng, classes=3, per_class=20, spread=8.0)  # overlapping: accuracy < 1
    estimator = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=k, metric=metric))
    reference = cross_val_score(
        estimator, features, labels, cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    )
    ours = knn_accuracy(features, labels, k=k, metric=metric, folds=folds, seed=seed)
    assert ours == pytest.approx(float(reference.mean()), abs=1e-12)
    assert 0.4 < ours < 1.0


def test_too_few_samples_is_a_data_error(rng):
    with pytest.raises(DataError):
        knn_accuracy(rng.normal(size=(3, 4)), np.array([0, 1, 1]), k=1)
    with pytest.raises(DataError):
        knn_accuracy(rng.normal(size=(4, 4)), np.zeros(4, dtype=int), k=1)


def test_pooled_features_have_declared_widths_and_are_spatial_means(images):
    torch.manual_seed(0)
    net = create_model("nafnet-tiny")
    levels = collect_features(net, images[:, :, :32, :32], batch_size=3)
    assert [f.shape for f in levels] == [(4, c) for c in net.feature_channels]
    with torch.no_grad():
        direct = net.eval().features(images[:, :, :32, :32])
    for pooled, feat in zip(levels, direct):
        np.testing.assert_allclose(pooled, feat.mean(dim=(2, 3)).double().numpy(), rtol=1e-5, atol=1e-6)
    assert concat_levels(levels).shape == (4, sum(net.feature_channels))


@pytest.fixture(scope="module")
def stand_in_checkpoint(tmp_path_factory):
    """A nafnet-tiny whose weights differ from a seed-0 random init (a stand-in for a trained net)."""
    torch.manual_seed(123)
    net = create_model("nafnet-tiny")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(net, path, class_names=["gaussian_noise", "haze"], step=1)


def test_cli_writes_png_and_json_for_both_nets(stand_in_checkpoint, tmp_path, capsys):
    out = tmp_path / "an"
    code = main(
        [
            "analyse",
            str(stand_in_checkpoint),
            "--per-type",
            "10",
            "--patch",
            "32",
            "--k",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert (out / "tsne.png").read_bytes()[:8] == PNG_SIGNATURE
    from PIL import Image

    with Image.open(out / "tsne.png") as im:
        assert im.width > im.height > 100
    result = json.loads((out / "analysis.json").read_text())
    assert result["types"] == ["gaussian_noise", "haze"]  # the checkpoint's class names
    assert [r["level"] for r in result["levels"]] == ["1", "2", "3", "4", "all"]
    assert [r["channels"] for r in result["levels"]] == [16, 32, 64, 128, 240]
    for row in result["levels"]:
        assert 0.0 <= row["knn_acc_ckpt"] <= 1.0 and 0.0 <= row["knn_acc_random"] <= 1.0
    table = capsys.readouterr().out
    assert "| level | channels | knn_acc(ckpt) | knn_acc(random) |" in table


def test_cli_random_init_and_folder(tmp_path, images):
    from dcpt.data.io import write_image

    folder = tmp_path / "clean"
    for i in range(2):
        write_image(folder / f"{i}.png", images[i])
    out = tmp_path / "an"
    code = main(
        [
            "analyse",
            "--arch",
            "nafnet-tiny",
            "--random-init",
            "--data",
            str(folder),
            "--types",
            "gaussian_noise",
            "low_light",
            "--per-type",
            "8",
            "--patch",
            "32",
            "--k",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads((out / "analysis.json").read_text())
    assert result["types"] == ["gaussian_noise", "low_light"] and result["samples"] == 16
    assert all("knn_acc_ckpt" not in r for r in result["levels"])


@pytest.mark.parametrize(
    "argv",
    [
        ["analyse", "missing.safetensors"],
        ["analyse", "--arch", "nafnet-tiny"],
        ["analyse", "--arch", "nafnet-tiny", "--random-init", "--types", "gausian_noise"],
        ["analyse", "--arch", "nafnet-tiny", "--random-init", "--data", "EMPTY"],
        ["analyse", "--arch", "nafnet-tiny", "--random-init", "--pairs", "rain"],
        ["analyse", "--arch", "no-such-net", "--random-init"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = [a.replace("EMPTY", str(tmp_path / "empty")) for a in argv] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcpt: error:") and "\n" not in err
