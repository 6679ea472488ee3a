"""The data-wait fraction the loop logs, checked against a data set and a step of known durations."""

import json
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcpt.config import DataConfig, OptimConfig, TrainConfig
from dcpt.engine.loop import Job, fit

CPU = torch.device("cpu")
SPENT = {"data": [], "step": []}
"""Seconds each batch and each step really took (a busy machine wakes sleepers late)."""


class SlowPairs(torch.utils.data.Dataset):
    """8 x 8 pairs, each sleeping `delay` seconds (batches of one: one sleep per batch, as in the
    step, so a busy machine's late wake-ups weigh on both sides alike)."""

    def __init__(self, delay: float, n: int = 16):
        self.delay = delay
        g = torch.Generator().manual_seed(0)
        self.gt = torch.rand(n, 3, 8, 8, generator=g)

    def __len__(self):
        return len(self.gt)

    def __getitem__(self, i):
        start = time.perf_counter()
        time.sleep(self.delay)
        SPENT["data"].append(time.perf_counter() - start)
        return {"lq": self.gt[i], "gt": self.gt[i]}


class SlowL1:
    """An L1 step that sleeps `delay` seconds besides its (microsecond) arithmetic."""

    def __init__(self, delay: float):
        self.delay = delay

    def __call__(self, batch, nets):
        start = time.perf_counter()
        time.sleep(self.delay)
        loss = F.l1_loss(nets["net"](batch["lq"]), batch["gt"])
        SPENT["step"].append(time.perf_counter() - start)
        return loss, {}


def _fit(tmp_path, data_delay, step_delay, steps=8, log_every=4):
    torch.manual_seed(0)
    job = Job(
        modules={"net": nn.Conv2d(3, 3, 1)},
        objective=SlowL1(step_delay),
        train_data=SlowPairs(data_delay),
        ema_of=None,
    )
    cfgs = (
        DataConfig(batch_size=1, seed=1),
        OptimConfig(lr=1e-3),
        TrainConfig(steps=steps, log_every=log_every, ckpt_every=0, ema=0.0, device="cpu"),
    )
    result = fit(job, *cfgs, tmp_path, CPU)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return result, records


def test_data_wait_is_a_fraction_in_every_record(tmp_path):
    result, records = _fit(tmp_path, 0.0, 0.0)
    assert [r["step"] for r in records] == [4, 8]
    for record in records:
        assert 0.0 <= record["data_wait"] <= 1.0
    assert result.last_logs["data_wait"] == records[-1]["data_wait"]


@pytest.mark.parametrize("data_delay, step_delay", [(0.1, 0.1), (0.05, 0.15)])
def test_data_wait_matches_the_known_ratio(tmp_path, data_delay, step_delay):
    """In-process loading (no workers): a step waits about `data_delay` for its batch, then computes
    for about `step_delay` (the 1 x 1 convolution and AdamW add well under a millisecond), so the
    fraction is near 0.5 and 0.25. The reference is what the sleeps really took, measured inside the
    data set and the objective, so a busy machine's late wake-ups do not fail the test."""
    SPENT["data"].clear()
    SPENT["step"].clear()
    _, records = _fit(tmp_path, data_delay, step_delay)
    data, step = SPENT["data"], SPENT["step"]
    for k, record in enumerate(records):
        window = slice(4 * k, 4 * (k + 1))
        expected = sum(data[window]) / (sum(data[window]) + sum(step[window]))
        assert record["data_wait"] == pytest.approx(expected, abs=0.06), record
