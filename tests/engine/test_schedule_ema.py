"""The learning-rate schedule and the EMA against hand computations."""

import math

import pytest
import torch
from torch import nn

from dcpt.engine.ema import ModelEma
from dcpt.engine.schedule import lr_at


def test_warmup_is_linear():
    assert [lr_at(s, 1.0, 100, warmup_steps=4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_cosine_values():
    lr, low, total, warm = 2e-4, 1e-6, 110, 10
    assert lr_at(warm, lr, total, warm, low) == pytest.approx(lr)
    assert lr_at(60, lr, total, warm, low) == pytest.approx(low + 0.5 * (lr - low))  # half-way: cos(pi/2) = 0
    assert lr_at(35, lr, total, warm, low) == pytest.approx(
        low + 0.5 * (lr - low) * (1 + math.cos(math.pi * 0.25))
    )
    assert lr_at(total, lr, total, warm, low) == pytest.approx(low)
    assert lr_at(10 * total, lr, total, warm, low) == pytest.approx(low)


def test_constant_when_min_lr_equals_lr():
    assert {lr_at(s, 3e-4, 50, 0, 3e-4) for s in range(60)} == {3e-4}


def test_ema_matches_hand_formula():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    ema = ModelEma(net, decay=0.9)
    start = [p.detach().clone() for p in net.parameters()]
    history = []
    for _ in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net(torch.rand(2, 3, 8, 8))  # moves the BatchNorm running stats
        history.append([p.detach().clone() for p in net.parameters()])
        ema.update(net)
    for i, e in enumerate(ema.module.parameters()):
        expected = start[i]
        for params in history:
            expected = 0.9 * expected + 0.1 * params[i]
        assert torch.allclose(e, expected, atol=1e-6)
        assert not e.requires_grad
    for e, b in zip(ema.module.buffers(), net.buffers()):
        assert torch.equal(e, b)


def test_ema_rejects_bad_decay():
    with pytest.raises(ValueError):
        ModelEma(nn.Linear(2, 2), 1.0)
