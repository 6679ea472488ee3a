"""How long the demo will take on this machine, said before it starts.

A fixed figure ("7 minutes") is wrong on every machine but the one it was measured on, and wrong on a
busy one. So the demo times two training steps and one restoration batch of the demo net here, now,
and multiplies by the work it is about to do: the step count of the live fine-tunings (plus the
pre-trainings with ``--pretrain``) and the number of held-out crops each net restores.
"""

from __future__ import annotations

import time
from typing import Dict

DATA_OVERHEAD = 1.15
"""Synthesis, EMA and logging on top of a bare training step (measured on 2 cores: 10-15%)."""


def _timed(fn, repeats: int = 2) -> float:
    fn()  # the first call pays for allocation and kernel selection
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def probe(batch_size: int, patch_size: int, crop_size: int) -> Dict[str, float]:
    """Seconds per training step (AdamW, batch of `patch_size` crops) and per restored `crop_size`
    crop, for NAFNet-tiny on the CPU with the current torch thread count."""
    import torch

    from ..models import create_model

    net = create_model("nafnet-tiny")
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, 3, patch_size, patch_size, generator=g)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        (net(x) - x).abs().mean().backward()
        opt.step()

    crops = torch.rand(8, 3, crop_size, crop_size, generator=g)

    def restore() -> None:
        with torch.no_grad():
            net.eval()(crops)
        net.train()

    return {"step": _timed(step) * DATA_OVERHEAD, "crop": _timed(restore) / len(crops)}


def estimate_seconds(options, nets: int, crops: int, batch_size: int, patch_size: int) -> Dict[str, float]:
    """Seconds per stage: ``score`` (the shipped `nets` and the live ones on `crops` crops), ``live``
    (three fine-tunings) and ``pretrain`` (0 unless ``--pretrain``)."""
    from .run import MODELS, PRETRAINED, QUICK_PRETRAIN_STEPS

    speed = probe(batch_size, patch_size, options.crop_size)
    pretrain_steps = 0
    if options.pretrain:
        pretrain_steps = options.pretrain_steps or (QUICK_PRETRAIN_STEPS if options.quick else 4000)
    return {
        "score": (nets + len(MODELS)) * crops * speed["crop"],
        "live": len(MODELS) * options.live_steps * speed["step"],
        "pretrain": len(PRETRAINED) * pretrain_steps * speed["step"] * 2.0,  # two passes per DCPT step
        "step": speed["step"],
    }


def plan_text(options, nets: int, crops: int, batch_size: int, patch_size: int, threads: int) -> str:
    """The line the demo opens with: what it will do and about how long it will take here."""
    est = estimate_seconds(options, nets, crops, batch_size, patch_size)
    total = est["score"] + est["live"] + est["pretrain"]
    parts = [f"score {nets} shipped nets (~{est['score']:.0f} s)"]
    if est["pretrain"]:
        parts.append(f"pre-train DCPT and MaskDCPT afresh (~{est['pretrain'] / 60:.0f} min)")
    parts.append(f"fine-tune 3 nets live for {options.live_steps} steps each (~{est['live']:.0f} s)")
    return (
        f"dcpt demo: {', '.join(parts)}; about {total / 60:.1f} min here "
        f"({est['step']:.2f} s per training step measured just now, {threads} threads)"
    )
