"""Exact resume: a run SIGKILLed after a checkpoint and resumed ends bit-identical to an uninterrupted one."""

import json
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file


def _tensors(path):
    return load_file(str(path))


def _records(run):
    """The logged records without ``data_wait``, a timing that no two runs share."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "data_wait"} for r in records]


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path, tiny_config, run_dcpt, dcpt_env):
    """Killed (SIGKILL, the `DCPT_FAULT_KILL` hook) after step 10: past the checkpoint of step 8 and
    past the log of step 10, so the resumed run must also cut `metrics.jsonl` back to step 8."""
    reference = tmp_path / "reference"
    run_dcpt("pretrain", tiny_config, "--out", reference)

    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-m", "dcpt", "pretrain", str(tiny_config), "--out", str(killed)],
        env={**dcpt_env, "DCPT_FAULT_KILL": "10"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    resumed_from = torch.load(killed / "last.pt", weights_only=True)["step"]
    assert resumed_from == 8
    assert [r["step"] for r in _records(killed)] == [5, 10]

    run_dcpt("pretrain", tiny_config, "--out", killed, "--resume")

    final_ref, final_res = _tensors(reference / "final.safetensors"), _tensors(killed / "final.safetensors")
    assert final_ref.keys() == final_res.keys()
    for key in final_ref:
        assert torch.equal(final_ref[key], final_res[key]), key
    last_ref = torch.load(reference / "last.pt", weights_only=True)
    last_res = torch.load(killed / "last.pt", weights_only=True)
    assert last_ref["step"] == last_res["step"] == 30
    for name in ("net", "classifier"):
        for key, value in last_ref["modules"][name].items():
            assert torch.equal(value, last_res["modules"][name][key]), (name, key)
    assert last_ref["stream"] == last_res["stream"]
    assert _records(killed) == _records(reference)  # each step logged once, with the same values


def test_resume_without_checkpoint_exits_2(tmp_path, tiny_config, run_dcpt):
    out = run_dcpt("pretrain", tiny_config, "--out", tmp_path / "none", "--resume", check=False)
    assert out.returncode == 2
    assert "no training checkpoint" in out.stderr
    assert "Traceback" not in out.stderr


def test_encoder_taps_on_a_net_without_them_exits_2_before_training(tmp_path, tiny_config, run_dcpt):
    import yaml

    tiny = yaml.safe_load(tiny_config.read_text())
    config = tmp_path / "restormer.yaml"
    config.write_text(
        yaml.safe_dump(
            {**tiny, "model": {"name": "restormer-tiny"}, "objective": {"classifier_taps": "encoder"}}
        )
    )
    out = run_dcpt("pretrain", config, "--out", tmp_path / "r", check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "taps" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "last.pt").exists()
