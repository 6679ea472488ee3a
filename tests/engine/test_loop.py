"""The loop on a stand-in job: NaN stop, accumulation, EMA export, frozen modules."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcpt.config import DataConfig, OptimConfig, TrainConfig
from dcpt.engine.checkpointing import load_training_state
from dcpt.engine.loop import Job, TrainingDiverged, fit
from dcpt.errors import ConfigError


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


def _job(objective, data, **kw):
    torch.manual_seed(0)
    modules = {"net": nn.Conv2d(3, 3, 3, padding=1), "frozen": nn.Linear(2, 2)}
    return Job(modules=modules, objective=objective, train_data=data, **kw)


def _cfgs(steps, batch=4, accum=1, ema=0.0, ckpt_every=0):
    return (
        DataConfig(batch_size=batch, seed=1),
        OptimConfig(lr=1e-2, min_lr=1e-2, weight_decay=0.0),
        TrainConfig(steps=steps, accum=accum, ema=ema, ckpt_every=ckpt_every, log_every=1, device="cpu"),
    )


def test_nan_stops_naming_the_step_and_keeps_last_good_checkpoint(tmp_path, pairs):
    """Step 5's loss is the first computed with step 4's weights: NaN there means the checkpoint of
    step 4 is not good, so step 2's stays."""
    job = _job(L1(nan_at=5), pairs)
    with pytest.raises(TrainingDiverged, match=r"at step 5; .*last\.pt \(step 2\)$"):
        fit(job, *_cfgs(10, ckpt_every=2), tmp_path, torch.device("cpu"))
    state = load_training_state(tmp_path / "last.pt")
    assert state["step"] == 2
    assert torch.isfinite(state["modules"]["net"]["weight"]).all()


def test_accumulation_equals_the_large_batch(pairs):
    big = _job(L1(), pairs)
    fit(big, *_cfgs(1, batch=4), None, torch.device("cpu"))
    small = _job(L1(), pairs)
    fit(small, *_cfgs(1, batch=2, accum=2), None, torch.device("cpu"))
    for a, b in zip(big.modules["net"].parameters(), small.modules["net"].parameters()):
        assert torch.allclose(a, b, atol=1e-7)


def test_export_receives_ema_weights_and_frozen_modules_stay(tmp_path, pairs):
    exported = {}
    job = _job(L1(), pairs, export=lambda modules, step, path: exported.update(modules=modules, step=step))
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


class TwoNets:
    """Both modules trained: the net restores, the `head` (a stand-in classifier) fits a constant."""

    trains = ("net", "head")

    def __call__(self, batch, nets):
        loss = (
            F.l1_loss(nets["net"](batch["lq"]), batch["gt"]) + nets["head"](torch.ones(1, 2)).square().sum()
        )
        return loss, {}


def _two_net_job(data):
    torch.manual_seed(0)
    return Job(
        modules={"net": nn.Conv2d(3, 3, 3, padding=1), "head": nn.Linear(2, 2)},
        objective=TwoNets(),
        train_data=data,
    )


def _first_step_sizes(lr_scale, pairs):
    """|change| of each module's weights after one AdamW step. Adam's first step moves every
    parameter with a non-zero gradient by exactly its learning rate (m / sqrt(v) = sign(g))."""
    job = _two_net_job(pairs)
    before = {n: m.weight.detach().clone() for n, m in job.modules.items()}
    data, _, train = _cfgs(1)
    optim = OptimConfig(lr=1e-3, min_lr=1e-3, weight_decay=0.0, lr_scale=lr_scale)
    fit(job, data, optim, train, None, torch.device("cpu"))
    return {n: (m.weight.detach() - before[n]).abs() for n, m in job.modules.items()}


def test_lr_scale_multiplies_one_modules_learning_rate(pairs):
    steps = _first_step_sizes({"head": 5.0}, pairs)
    assert torch.allclose(steps["net"], torch.full_like(steps["net"], 1e-3), rtol=1e-3)
    assert torch.allclose(steps["head"], torch.full_like(steps["head"], 5e-3), rtol=1e-3)


def test_lr_scale_naming_an_unknown_module_is_a_config_error(pairs):
    data, _, train = _cfgs(1)
    with pytest.raises(ConfigError, match=r"^config key 'optim.lr_scale.classifer': this job has no module"):
        fit(
            _two_net_job(pairs),
            data,
            OptimConfig(lr_scale={"classifer": 5.0}),
            train,
            None,
            torch.device("cpu"),
        )
    with pytest.raises(ConfigError, match=r"must be > 0"):
        fit(_two_net_job(pairs), data, OptimConfig(lr_scale={"head": 0.0}), train, None, torch.device("cpu"))


def test_a_run_saved_with_one_parameter_group_resumes_into_per_module_groups(tmp_path, pairs):
    """Checkpoints written before `optim.lr_scale` hold one AdamW group for all modules; resuming
    one must give the same weights as a run that never stopped."""
    data, optim, _ = _cfgs(4)
    straight = _two_net_job(pairs)
    fit(
        straight,
        data,
        optim,
        TrainConfig(steps=4, ema=0.0, ckpt_every=0, device="cpu"),
        None,
        torch.device("cpu"),
    )

    first = _two_net_job(pairs)
    fit(
        first,
        data,
        optim,
        TrainConfig(steps=2, ema=0.0, ckpt_every=2, device="cpu"),
        tmp_path,
        torch.device("cpu"),
    )
    state = load_training_state(tmp_path / "last.pt")
    groups = state["optimizer"]["param_groups"]
    merged = {**groups[0], "params": [i for g in groups for i in g["params"]]}
    merged.pop("lr_scale")
    state["optimizer"]["param_groups"] = [merged]
    torch.save(state, tmp_path / "last.pt")

    resumed = _two_net_job(pairs)
    fit(
        resumed,
        data,
        optim,
        TrainConfig(steps=4, ema=0.0, ckpt_every=0, device="cpu"),
        tmp_path,
        torch.device("cpu"),
        resume=True,
    )
    for name in ("net", "head"):
        assert torch.equal(straight.modules[name].weight, resumed.modules[name].weight)


def _grad_norm(job):
    return torch.linalg.vector_norm(
        torch.stack([p.grad.norm() for p in job.modules["net"].parameters()])
    ).item()


def test_grad_clip_bounds_the_gradient_norm_of_a_real_step(pairs):
    data, optim, train = _cfgs(1)
    free = _job(L1(), pairs)
    fit(free, data, optim, train, None, torch.device("cpu"))
    assert _grad_norm(free) > 0.01  # without clipping the gradient is larger than the bound below
    optim.grad_clip = 0.01
    clipped = _job(L1(), pairs)
    fit(clipped, data, optim, train, None, torch.device("cpu"))
    assert _grad_norm(clipped) == pytest.approx(0.01, rel=1e-4)
