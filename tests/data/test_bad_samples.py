"""Bad samples: one corrupt image among good ones stops the run naming it (``error``), or is left out
and counted (``skip``) unless too many are bad; data sets and training runs alike."""

import logging

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from dcpt.cli import main
from dcpt.config import load_config
from dcpt.data.bad_samples import BadSamplePolicy, BadSamples
from dcpt.data.paired import PairedFolderDataset
from dcpt.data.synthetic import SyntheticDataset
from dcpt.errors import ConfigError, DataError

GOOD = 9  # with one bad file: 10 files, 10% bad


def _png(path, seed, size=(20, 20)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


def _corrupt(path):
    """A PNG cut in the middle of its pixel data: the header reads, the decoding fails."""
    _png(path, 99)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def clean(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    for k in range(GOOD):
        _png(folder / f"good{k}.png", k)
    _corrupt(folder / "broken.png")
    return folder


@pytest.fixture
def paired(tmp_path):
    root = tmp_path / "pairs"
    (root / "lq").mkdir(parents=True)
    (root / "gt").mkdir()
    for k in range(4):
        _png(root / "lq" / f"p{k}.png", k)
        _png(root / "gt" / f"p{k}.png", 10 + k)
    _corrupt(root / "lq" / "p1.png")
    return root


def _skip(fraction):
    return BadSamplePolicy("skip", fraction)


# ----------------------------------------------------------------------------- the policy


def test_policy_rejects_unknown_modes_and_fractions_outside_0_1():
    with pytest.raises(ConfigError, match="expected error or skip"):
        BadSamplePolicy("ignore")
    for fraction in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="data.max_bad_fraction"):
            BadSamplePolicy("skip", fraction)


def test_the_limit_is_a_share_of_the_files():
    assert BadSamplePolicy("skip", 0.01).allowed(100) == 1
    assert BadSamplePolicy("skip", 0.01).allowed(99) == 0
    assert BadSamplePolicy("skip", 0.1).allowed(10) == 1  # 1 / 10 is not above 0.1


def test_each_bad_file_is_logged_once(caplog):
    bad = BadSamples(_skip(0.5), 10)
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        for _ in range(3):
            bad.record("a.png", DataError("a.png: corrupt"))
    assert bad.count == 1 and len(caplog.records) == 1 and "a.png" in caplog.text


def test_config_fields_default_to_error_and_are_typed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump({"data": {"train": [{"clean": "samples", "classes": [{"name": "rain"}]}]}})
    )
    cfg = load_config(path)
    assert (cfg.data.on_bad_sample, cfg.data.max_bad_fraction) == ("error", 0.01)
    with pytest.raises(ConfigError, match="on_bad_sample"):
        load_config(path, ["data.on_bad_sample=ignore"])


# ----------------------------------------------------------------------------- synthetic data


def test_synthetic_error_mode_names_the_file(clean):
    with pytest.raises(DataError, match=r"broken\.png.*data\.on_bad_sample: skip"):
        SyntheticDataset(str(clean), ["gaussian_noise"], patch_size=16)


def test_synthetic_skip_mode_leaves_the_file_out_and_counts_it(clean, caplog):
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        ds = SyntheticDataset(str(clean), ["gaussian_noise"], patch_size=16, bad_samples=_skip(0.1))
    assert ds.bad.count == 1 and len(ds.entries) == GOOD
    assert all("broken" not in name for name, _ in ds.entries)
    assert "broken.png" in caplog.text and "skipped 1 of 10 clean images" in caplog.text
    assert ds[0]["lq"].shape == (3, 16, 16)


def test_synthetic_too_many_bad_stops(clean):
    with pytest.raises(
        DataError, match=r"1 of 10 clean images are unreadable, above data.max_bad_fraction 0.05"
    ):
        SyntheticDataset(str(clean), ["gaussian_noise"], patch_size=16, bad_samples=_skip(0.05))


def test_synthetic_lazy_skip_uses_the_next_readable_image_whatever_the_order(clean):
    def items(order):
        ds = SyntheticDataset(str(clean), ["rain"], 16, length=20, cache=False, bad_samples=_skip(0.1))
        got = {i: ds[i]["gt"] for i in order}
        return ds, got

    ds, forward = items(range(20))
    _, backward = items(reversed(range(20)))
    assert ds.bad.count == 1
    assert all(torch.equal(forward[i], backward[i]) for i in range(20))


# ----------------------------------------------------------------------------- paired folders


def test_paired_error_mode_names_the_file(paired):
    ds = PairedFolderDataset(paired)
    ds[0]
    with pytest.raises(DataError, match=r"p1\.png"):
        ds[1]


def test_paired_skip_mode_iterates_and_counts(paired, caplog):
    ds = PairedFolderDataset(paired, patch_size=8, augment=True, bad_samples=_skip(0.25))
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        names = [ds[i]["name"] for i in range(len(ds))]
    assert names == ["p0", "p2", "p2", "p3"] and ds.bad.count == 1
    assert ds.bad.summary().startswith("skipped 1 of 4 pairs")
    assert "skipped bad sample 1 (of 4 pairs" in caplog.text and "at most 1 allowed" in caplog.text


def test_paired_mismatched_sizes_are_a_bad_pair(paired):
    _png(paired / "gt" / "p3.png", 3, size=(12, 20))
    ds = PairedFolderDataset(paired, bad_samples=_skip(0.5))
    assert [ds[i]["name"] for i in range(4)] == ["p0", "p2", "p2", "p0"] and ds.bad.count == 2


def test_paired_too_many_bad_stops(paired):
    ds = PairedFolderDataset(paired, bad_samples=_skip(0.2))
    with pytest.raises(DataError, match=r"1 of 4 pairs in .* are unreadable"):
        [ds[i] for i in range(4)]


# ----------------------------------------------------------------------------- a training run


def _config(tmp_path, clean, **data):
    cfg = {
        "model": {
            "name": "nafnet-tiny",
            "overrides": {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1, "dec_blk_nums": [1]},
        },
        "data": {
            "train": [{"clean": str(clean), "classes": [{"name": "gaussian_noise"}, {"name": "rain"}]}],
            "patch_size": 16,
            "batch_size": 2,
            "epoch_length": 4,
            **data,
        },
        "train": {"steps": 2, "ema": 0.0, "log_every": 1, "ckpt_every": 0, "device": "cpu"},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _err_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("dcpt: error")]


def test_training_error_mode_one_line_exit_2(tmp_path, clean, capsys):
    code = main(["pretrain", str(_config(tmp_path, clean)), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "broken.png" in err[0]


def test_training_skip_mode_trains_and_reports_the_count(tmp_path, clean, caplog):
    config = _config(tmp_path, clean, on_bad_sample="skip", max_bad_fraction=0.1)
    with caplog.at_level(logging.WARNING, logger="dcpt.data"):
        code = main(["pretrain", str(config), "--out", str(tmp_path / "run")])
    assert code == 0 and (tmp_path / "run" / "final.safetensors").exists()
    assert "skipped 1 of 10 clean images" in caplog.text and "broken.png" in caplog.text


def test_training_too_many_bad_one_line_exit_2(tmp_path, clean, capsys):
    config = _config(tmp_path, clean, on_bad_sample="skip", max_bad_fraction=0.05)
    code = main(["pretrain", str(config), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "1 of 10 clean images are unreadable" in err[0] and "data.max_bad_fraction" in err[0]
