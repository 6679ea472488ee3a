"""A real training run on tar shards: SIGKILLed after a checkpoint and resumed, it ends with the
weights of an uninterrupted run (the data position restarts the shard stream at the right sample)."""

import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from dcpt.data import make_paired_dataset

TINY_NET = {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]}


def _dcpt(*args, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dcpt", *map(str, args)], capture_output=True, text=True, env=env, timeout=900
    )


@pytest.mark.slow
def test_sigkill_then_resume_on_shards_is_bit_identical(tmp_path):
    shards = tmp_path / "shards"
    make_paired_dataset(
        "samples",
        shards,
        ["gaussian_noise", "gaussian_blur"],
        patch=24,
        format="shards",
        shard_size=5,
        progress=False,
    )
    config = {
        "model": {"name": "nafnet-tiny", "overrides": TINY_NET},
        "data": {
            "train": [{"shards": str(shards)}],
            "patch_size": 16,
            "batch_size": 2,
            "workers": 2,
            "seed": 3,
        },
        "optim": {"lr": 1.0e-3, "min_lr": 1.0e-3, "warmup_steps": 0},
        "train": {"steps": 16, "ema": 0.9, "log_every": 4, "ckpt_every": 4, "seed": 5, "device": "cpu"},
    }
    path = tmp_path / "shards.yaml"
    path.write_text(yaml.safe_dump(config))
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    done = _dcpt("pretrain", path, "--out", reference)
    assert done.returncode == 0, done.stderr[-2000:]
    # 26 pairs, 13 batches per epoch: the kill at step 14 falls in the second epoch, after step 12's checkpoint
    out = _dcpt("pretrain", path, "--out", killed, env={"DCPT_FAULT_KILL": "14"})
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    assert torch.load(killed / "last.pt", weights_only=True)["stream"]["epoch"] == 0
    resumed = _dcpt("pretrain", path, "--out", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ref, res = load_file(str(reference / "final.safetensors")), load_file(str(killed / "final.safetensors"))
    assert ref.keys() == res.keys()
    assert all(torch.equal(ref[k], res[k]) for k in ref)
