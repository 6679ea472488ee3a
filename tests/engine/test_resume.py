"""Exact resume: a run SIGKILLed after a checkpoint and resumed ends bit-identical to an uninterrupted one."""

import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file


def _tensors(path):
    return load_file(str(path))


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path, tiny_config, run_dcpt, dcpt_env):
    reference = tmp_path / "reference"
    run_dcpt("pretrain", tiny_config, "--out", reference)

    # The interrupted run is told to go on for ever (constant lr, so the step count does not change
    # the schedule) and is killed as soon as its first checkpoint lands.
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dcpt",
            "pretrain",
            str(tiny_config),
            "--out",
            str(killed),
            "--set",
            "train.steps=100000",
        ],
        env=dcpt_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    while not (killed / "last.pt").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    resumed_from = torch.load(killed / "last.pt", weights_only=True)["step"]
    assert 0 < resumed_from < 30

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
