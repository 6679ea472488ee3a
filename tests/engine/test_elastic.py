"""Elastic training: torchrun restarts a group whose rank died, and `--resume auto` carries it on.

Rank 1 SIGKILLs itself after step 6 (the `DCPT_FAULT_KILL` test hook, first attempt only); torchrun
stops rank 0, starts both again, they resume from the checkpoint of step 4 and end at step 12 with
the weights and logs of a run that was never interrupted. TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 as
documented (`engine.distributed`): without it the restarted gloo group sometimes cannot connect."""

import json
import subprocess
import sys

import pytest
import torch

STEPS = ["--set", "train.steps=12", "--set", "train.ckpt_every=4", "--set", "data.batch_size=2"]


def _torchrun(config, out, env, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            *extra,
            "-m",
            "dcpt",
            "pretrain",
            str(config),
            "--out",
            str(out),
            "--resume",
            "auto",
            *STEPS,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


@pytest.mark.slow
def test_a_killed_rank_is_restarted_and_the_run_ends_as_if_uninterrupted(
    tmp_path, tiny_config, dcpt_env, assert_same_weights
):
    reference = tmp_path / "reference"
    done = _torchrun(tiny_config, reference, dcpt_env)
    assert done.returncode == 0, done.stderr[-3000:]

    elastic = tmp_path / "elastic"
    env = {**dcpt_env, "DCPT_FAULT_KILL": "6@1", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    done = _torchrun(tiny_config, elastic, env, "--max-restarts=1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pytorch#135712" not in done.stderr
    assert "(exitcode: -9)" in done.stderr, done.stderr[-3000:]  # rank 1 died by SIGKILL
    assert f"resumed from {elastic / 'last.pt'} at step 4" in done.stderr
    assert done.stdout.count("pretrain: 12 steps on cpu x2") == 1

    a = torch.load(reference / "last.pt", weights_only=True)
    b = torch.load(elastic / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 12 and b["world_size"] == 2
    assert_same_weights(a, b)
    for key, value in a["ema"].items():
        assert torch.allclose(value, b["ema"][key], rtol=1e-5, atol=1e-6), key

    def steps(run):
        return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert steps(elastic) == steps(reference) == [5, 10, 12]


def test_rank_0_warns_when_restarts_share_torchruns_store():
    from dcpt.engine.distributed import restarts_may_reuse_a_stale_store as stale

    shared = {"TORCHELASTIC_MAX_RESTARTS": "3", "TORCHELASTIC_USE_AGENT_STORE": "True"}
    assert stale(shared)
    assert not stale({**shared, "TORCHELASTIC_USE_AGENT_STORE": "False"})
    assert not stale({**shared, "TORCHELASTIC_MAX_RESTARTS": "0"})
    assert not stale({})
