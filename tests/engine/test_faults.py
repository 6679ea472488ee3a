"""Faults inside the loop: divergence, poisoned weights, a full disk, and the logs after a resume."""

import errno
import json
import os
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcpt.config import DataConfig, OptimConfig, TrainConfig
from dcpt.engine import checkpointing
from dcpt.engine.checkpointing import load_training_state
from dcpt.engine.loop import Job, TrainingDiverged, TrainingStopped, fit
from dcpt.fileio import leftovers

CPU = torch.device("cpu")


class Boom(Exception):
    pass


class L1:
    """L1 with a noisy extra log (so averaged logs depend on every step), and optional faults:
    weights driven up until NaN once one exceeds `nan_above`, `poison_at` sets a frozen weight to
    inf, `boom_at` raises."""

    trains = ("net",)

    def __init__(self, nan_above=None, poison_at=None, boom_at=None):
        self.calls = 0
        self.nan_above, self.poison_at, self.boom_at = nan_above, poison_at, boom_at

    def __call__(self, batch, nets):
        self.calls += 1
        if self.calls == self.boom_at:
            raise Boom("killed")
        if self.calls == self.poison_at:
            with torch.no_grad():
                self.frozen.weight[0, 0] = float("inf")
        loss = F.l1_loss(nets["net"](batch["lq"]), batch["gt"])
        if self.nan_above is not None:  # a pull that makes every weight grow by about lr a step
            loss = loss - nets["net"].weight.sum()
            if nets["net"].weight.abs().max() > self.nan_above:
                loss = loss * float("nan")
        return loss, {"l1": loss.detach(), "noise": torch.rand(())}


def _job(objective, data):
    torch.manual_seed(0)
    modules = {"net": nn.Conv2d(3, 3, 3, padding=1), "frozen": nn.Linear(2, 2)}
    objective.frozen = modules["frozen"]
    return Job(modules=modules, objective=objective, train_data=data)


def _cfgs(steps, lr=1e-2, ckpt_every=1, log_every=1):
    return (
        DataConfig(batch_size=4, seed=1),
        OptimConfig(lr=lr, min_lr=lr, weight_decay=0.0, warmup_steps=0),
        TrainConfig(steps=steps, ema=0.9, ckpt_every=ckpt_every, log_every=log_every, device="cpu"),
    )


def test_divergence_names_a_checkpoint_whose_weights_give_a_finite_loss(tmp_path, pairs):
    """lr 10: the weights grow by about 10 a step; the loss is NaN once any exceeds 45. The weights of
    the last checkpoint written before that must still give a finite loss, not just be finite."""
    job = _job(L1(nan_above=45.0), pairs)
    with pytest.raises(TrainingDiverged, match=r"^loss is nan at step (\d+); stopped") as caught:
        fit(job, *_cfgs(50, lr=10.0), tmp_path, CPU)
    failed_at = int(caught.value.args[0].split("at step ")[1].split(";")[0])
    state = load_training_state(tmp_path / "last.pt")
    assert str(caught.value).endswith(f"last.pt (step {state['step']})")
    assert state["step"] == failed_at - 2  # step failed_at - 1's weights gave the NaN
    assert state["modules"]["net"]["weight"].abs().max() <= 45.0
    assert 0 < state["step"]


def test_non_finite_weights_are_never_saved(tmp_path, pairs):
    job = _job(L1(poison_at=4), pairs)  # an inf in a module that no loss reads
    with pytest.raises(
        TrainingDiverged, match=r"weights are not finite after step 3; .*last\.pt \(step 2\)$"
    ):
        fit(job, *_cfgs(10), tmp_path, CPU)
    state = load_training_state(tmp_path / "last.pt")
    assert state["step"] == 2 and torch.isfinite(state["modules"]["frozen"]["weight"]).all()


def test_enospc_while_checkpointing_stops_naming_the_last_good_checkpoint(tmp_path, monkeypatch, pairs):
    real_save = torch.save
    calls = []

    def save_then_fill_the_disk(obj, fh, *args, **kwargs):
        calls.append(obj["step"])
        if len(calls) < 3:
            return real_save(obj, fh, *args, **kwargs)
        fh.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpointing.torch, "save", save_then_fill_the_disk)
    with pytest.raises(TrainingStopped) as caught:
        fit(_job(L1(), pairs), *_cfgs(10, ckpt_every=2), tmp_path, CPU)
    last = tmp_path / "last.pt"
    assert calls == [2, 4, 6]
    assert str(caught.value) == (
        f"cannot write {str(last)!r}: No space left on device (ENOSPC); stopped after step 6. "
        f"Last good checkpoint: {last} (step 4)"
    )
    assert leftovers(tmp_path) == []
    monkeypatch.setattr(checkpointing.torch, "save", real_save)
    assert load_training_state(last)["step"] == 4


def _records(run):
    """The logged records without ``data_wait``, a timing that no two runs share."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "data_wait"} for r in records]


def _tensorboard(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    tags = [t for t in events.Tags()["scalars"] if t != "train/data_wait"]  # a timing, see `_records`
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags}


def test_logs_after_resume_equal_an_uninterrupted_runs_step_for_step(tmp_path, pairs):
    """Checkpoints every 4 steps, logs every 3: the run dies in step 11, after logging step 9 past its
    checkpoint of step 8 (written during step 9). The resumed run must log 9 and 12 exactly as the
    uninterrupted one, means over steps 7-9 included."""
    pytest.importorskip("tensorboard")
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    cfgs = _cfgs(12, ckpt_every=4, log_every=3)
    fit(_job(L1(), pairs), *cfgs, reference, CPU)
    with pytest.raises(Boom):
        fit(_job(L1(boom_at=11), pairs), *cfgs, killed, CPU)
    assert [r["step"] for r in _records(killed)] == [3, 6, 9]
    assert load_training_state(killed / "last.pt")["step"] == 8
    # TensorBoard reads event files in name order (time in whole seconds, host, pid, a per-process
    # counter): a resume is a later start, so let the second turn, or a counter of 10 sorts before 9
    time.sleep(1.1)
    fit(_job(L1(), pairs), *cfgs, killed, CPU, resume=True)

    ref, res = _records(reference), _records(killed)
    assert [r["step"] for r in res] == [r["step"] for r in ref] == [3, 6, 9, 12]
    for a, b in zip(ref, res):
        assert a.keys() == b.keys()
        assert a.pop("kind") == b.pop("kind") == "train"
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-7), (a["step"], key)
    ref_tb, res_tb = _tensorboard(reference), _tensorboard(killed)
    assert ref_tb.keys() == res_tb.keys() and "train/noise" in ref_tb
    for tag in ref_tb:
        assert [s for s, _ in res_tb[tag]] == [s for s, _ in ref_tb[tag]] == [3, 6, 9, 12], tag
        assert [v for _, v in res_tb[tag]] == pytest.approx([v for _, v in ref_tb[tag]], rel=1e-6), tag


def test_a_fresh_start_clears_logs_of_a_run_that_never_checkpointed(tmp_path, pairs):
    with pytest.raises(Boom):
        fit(_job(L1(boom_at=3), pairs), *_cfgs(6, ckpt_every=0), tmp_path, CPU)
    assert [r["step"] for r in _records(tmp_path)] == [1, 2]
    fit(_job(L1(), pairs), *_cfgs(6, ckpt_every=0), tmp_path, CPU)
    assert [r["step"] for r in _records(tmp_path)] == [1, 2, 3, 4, 5, 6]


def test_cut_metrics_keeps_complete_records_up_to_the_step(tmp_path):
    from dcpt.engine.logging import cut_metrics

    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "kind": "train", "loss": 0.5}) + "\n" for s in (2, 4, 6)]
    path.write_text("".join(lines) + '{"step": 8, "kind": "tr')  # a line cut short by a kill
    cut_metrics(path, 4)
    assert path.read_text() == "".join(lines[:2])
    cut_metrics(path, 0)
    assert path.read_text() == ""
