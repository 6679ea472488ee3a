"""`dcpt.device.resolve_device`: the spellings every command accepts, and one-line errors for the rest."""

from __future__ import annotations

import pytest
import torch

from dcpt.device import resolve_device
from dcpt.engine.distributed import rank_device
from dcpt.errors import DcptError


def test_names_and_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu9", "cuda:x", "", "cpu cpu"])
def test_an_invalid_name_is_one_line(name):
    with pytest.raises(DcptError, match=r"--device: expected cpu, cuda, cuda:N or auto") as info:
        resolve_device(name)
    assert "\n" not in str(info.value)


def test_an_absent_gpu_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DcptError, match="config key 'train.device' 'cuda': no CUDA device"):
        resolve_device("cuda", option="config key 'train.device'")
    assert resolve_device("auto") == torch.device("cpu")


def test_an_index_past_the_gpus_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(DcptError, match="'cuda:2': this machine has 2 CUDA device"):
        resolve_device("cuda:2")


def test_a_rank_takes_its_own_gpu_unless_one_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert rank_device("cuda", local_rank=3) == torch.device("cuda", 3)
    assert rank_device("auto", local_rank=2) == torch.device("cuda", 2)
    assert rank_device("cpu", local_rank=2) == torch.device("cpu")
