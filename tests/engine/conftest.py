"""A tiny but real training run: a 2-level NAFNet on 16 x 16 crops of the embedded samples."""

import os
import subprocess
import sys

import pytest
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
