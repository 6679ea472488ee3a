"""A tiny but real training run (a 2-level NAFNet on 16 x 16 crops of the embedded samples), a stand-in
data set for loop tests, and the comparison of two runs' weights."""

import os
import subprocess
import sys

import pytest
import torch
import yaml

TINY = {
    "model": {
        "name": "nafnet-tiny",
        "overrides": {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]},
    },
    "data": {
        "train": [
            {
                "clean": "samples",
                "classes": [{"name": "gaussian_noise", "levels": [15, 50]}, {"name": "gaussian_blur"}],
            }
        ],
        "patch_size": 16,
        "batch_size": 2,
        "epoch_length": 8,
        "seed": 3,
    },
    "optim": {"lr": 1.0e-3, "min_lr": 1.0e-3, "warmup_steps": 0},
    "train": {"steps": 30, "ema": 0.9, "log_every": 5, "ckpt_every": 4, "seed": 5, "device": "cpu"},
}


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _env():
    """One thread everywhere, so subprocess runs are comparable bit for bit."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run_dcpt(*args, check=True, timeout=240):
    out = subprocess.run(
        [sys.executable, "-m", "dcpt", *map(str, args)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )
    if check and out.returncode != 0:
        raise AssertionError(
            f"dcpt {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr[-3000:]}"
        )
    return out


@pytest.fixture
def run_dcpt():
    """`run_dcpt(*args, check=True)`: the `dcpt` command in a fresh single-threaded process."""
    return _run_dcpt


@pytest.fixture
def dcpt_env():
    return _env()


class Pairs(torch.utils.data.Dataset):
    """16 noisy / clean 8 x 8 pairs with a 0 / 1 label, the same for every test."""

    def __init__(self, n=16):
        g = torch.Generator().manual_seed(0)
        self.gt = torch.rand(n, 3, 8, 8, generator=g)
        self.lq = (self.gt + 0.1 * torch.randn(n, 3, 8, 8, generator=g)).clamp(0, 1)

    def __len__(self):
        return len(self.gt)

    def __getitem__(self, i):
        return {"lq": self.lq[i], "gt": self.gt[i], "label": i % 2}


@pytest.fixture
def pairs():
    """A stand-in training set for the loop (`Pairs`)."""
    return Pairs()


def _assert_same_weights(a, b):
    """Training states `a` and `b` (`last.pt` dicts) hold the same net and classifier weights, up to
    the float error of a different reduction order (more than 10 tensors compared)."""
    compared = 0
    for name in ("net", "classifier"):
        for key, value in a["modules"][name].items():
            assert torch.allclose(value, b["modules"][name][key], rtol=1e-5, atol=1e-6), (name, key)
            compared += 1
    assert compared > 10


@pytest.fixture
def assert_same_weights():
    """`assert_same_weights(a, b)` for two loaded `last.pt` dicts."""
    return _assert_same_weights
