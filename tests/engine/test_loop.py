"""The loop on a stand-in job: NaN stop, accumulation, EMA export, frozen modules."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcpt.config import DataConfig, OptimConfig, TrainConfig
from dcpt.engine.checkpointing import load_training_state
from dcpt.engine.loop import Job, TrainingDiverged, fit


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n=16):
        g = torch.Generator().manual_seed(0)
        self.gt = torch.rand(n, 3, 8, 8, generator=g)
        self.lq = (self.gt + 0.1 * torch.randn(n, 3, 8, 8, generator=g)).clamp(0, 1)

    def __len__(self):
        return len(self.gt)

    def __getitem__(self, i):
        return {"lq": self.lq[i], "gt": self.gt[i], "label": i % 2}


class L1:
    trains = ("net",)

    def __init__(self, nan_at=None):
        self.calls, self.nan_at = 0, nan_at

    def __call__(self, batch, nets):
        self.calls += 1
        loss = F.l1_loss(nets["net"](batch["lq"]), batch["gt"])
        if self.calls == self.nan_at:
            loss = loss * float("nan")
        return loss, {"l1": loss.detach()}


def _job(objective, **kw):
    torch.manual_seed(0)
    modules = {"net": nn.Conv2d(3, 3, 3, padding=1), "frozen": nn.Linear(2, 2)}
    return Job(modules=modules, objective=objective, train_data=Pairs(), **kw)


def _cfgs(steps, batch=4, accum=1, ema=0.0, ckpt_every=0):
    return (DataConfig(batch_size=batch, seed=1), OptimConfig(lr=1e-2, min_lr=1e-2, weight_decay=0.0),
            TrainConfig(steps=steps, accum=accum, ema=ema, ckpt_every=ckpt_every, log_every=1, device="cpu"))


def test_nan_stops_naming_the_step_and_keeps_last_good_checkpoint(tmp_path):
    job = _job(L1(nan_at=5))
    with pytest.raises(TrainingDiverged, match=r"at step 5; .*step 4\)"):
        fit(job, *_cfgs(10, ckpt_every=2), tmp_path, torch.device("cpu"))
    state = load_training_state(tmp_path / "last.pt")
    assert state["step"] == 4
    assert torch.isfinite(state["modules"]["net"]["weight"]).all()


def test_accumulation_equals_the_large_batch():
    big = _job(L1())
    fit(big, *_cfgs(1, batch=4), None, torch.device("cpu"))
    small = _job(L1())
    fit(small, *_cfgs(1, batch=2, accum=2), None, torch.device("cpu"))
    for a, b in zip(big.modules["net"].parameters(), small.modules["net"].parameters()):
        assert torch.allclose(a, b, atol=1e-7)


def test_export_receives_ema_weights_and_frozen_modules_stay(tmp_path):
    exported = {}
    job = _job(L1(), export=lambda modules, step, path: exported.update(modules=modules, step=step))
    frozen_before = job.modules["frozen"].weight.detach().clone()
    decay = 0.5
    fit(job, *_cfgs(3, ema=decay), tmp_path, torch.device("cpu"))
    ema_net = exported["modules"]["net"]
    assert exported["step"] == 3 and ema_net is not job.modules["net"]
    assert not torch.equal(ema_net.weight, job.modules["net"].weight)
    state = load_training_state(tmp_path / "last.pt")
    assert torch.equal(state["ema"]["weight"], ema_net.weight)
    assert torch.equal(job.modules["frozen"].weight, frozen_before)
    assert not job.modules["frozen"].weight.requires_grad
