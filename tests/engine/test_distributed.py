"""torchrun with 2 gloo processes on CPU: the same steps as one process on the concatenated batch.

Two steps, not one: AdamW's first update is nearly lr * sign(grad), too blunt to tell batches apart."""

import subprocess
import sys

import pytest
import torch


@pytest.mark.slow
def test_two_process_step_equals_single_process_on_concatenated_batch(
    tmp_path, tiny_config, run_dcpt, dcpt_env, assert_same_weights
):
    two_steps = ["--set", "train.steps=2", "--set", "train.ckpt_every=2"]
    single = tmp_path / "single"
    run_dcpt("pretrain", tiny_config, "--out", single, *two_steps, "--set", "data.batch_size=4")

    ddp = tmp_path / "ddp"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "dcpt",
            "pretrain",
            str(tiny_config),
            "--out",
            str(ddp),
            *two_steps,
            "--set",
            "data.batch_size=2",
        ],
        capture_output=True,
        text=True,
        env=dcpt_env,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "x2" in out.stdout

    files = sorted(p.name for p in ddp.iterdir() if p.is_file())
    assert files == [".lock", "config.yaml", "final.safetensors", "last.pt", "metrics.jsonl"]
    a = torch.load(single / "last.pt", weights_only=True)
    b = torch.load(ddp / "last.pt", weights_only=True)
    assert b["world_size"] == 2 and len(b["ranks"]) == 2
    assert a["stream"]["index"] == b["stream"]["index"] == 8
    assert_same_weights(a, b)
