"""Seconds per DCPT pre-training step on the CPU, and what each optimisation buys.

The step: NAFNet width 16, encoder (1, 1, 1, 28), middle 1, decoder (1, 1, 1, 1) (`nafnet-w16-28`),
batch 4 of 64 x 64 crops, 6 degradation classes, 2 threads; two forward passes (features of lq ->
classifier, net(gt)), one backward, one AdamW step over net and classifier (`DcptObjective`).
Each variant starts from the same weights and batch; the median over `--steps` timed steps after
`--warmup` steps is printed with its ratio to the baseline and its largest weight difference from
the fp32 baseline after the same steps. All but bf16 compute in fp32; they differ only in the order
of floating-point sums, which Adam's normalisation amplifies for parameters with near-zero
gradients, so `max |dw|` is bounded by about ``2 * lr * steps`` (5e-3 here), not a sign of error. Variants run in turn, so a
shared machine slows them alike only roughly: read ratios with that caveat.

The official implementation (BasicSR `DCPTModel`) runs the same step with two optimisers, `zero_grad()`
filling zeros and forward hooks; the `official-like` row imitates the optimiser side of it.

    python benchmarks/step_time.py [--steps 10] [--warmup 3] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import torch

from dcpt.models import create_model
from dcpt.models.classifier import DegradationClassifier
from dcpt.objectives import DcptObjective

BATCH, PATCH, CLASSES, THREADS = 4, 64, 6, 2


@dataclass(frozen=True)
class Variant:
    name: str
    channels_last: bool = False
    bf16: bool = False
    optimizer: str = "foreach"  # foreach | for-loop | fused
    set_to_none: bool = True
    compile: bool = False


def make_batch():
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(BATCH, 3, PATCH, PATCH, generator=g)
    lq = (gt + 0.1 * torch.randn(BATCH, 3, PATCH, PATCH, generator=g)).clamp(0, 1)
    return {"lq": lq, "gt": gt, "label": torch.arange(BATCH) % CLASSES}


def make_modules():
    torch.manual_seed(0)
    net = create_model("nafnet-w16-28")
    return {"net": net, "classifier": DegradationClassifier(net.feature_channels, CLASSES)}


def build_step(variant: Variant):
    modules = make_modules()
    batch = make_batch()
    if variant.channels_last:
        for m in modules.values():
            m.to(memory_format=torch.channels_last)
        batch = {
            k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in batch.items()
        }
    params = [p for m in modules.values() for p in m.parameters()]
    kwargs = {"foreach": {"foreach": True}, "for-loop": {"foreach": False}, "fused": {"fused": True}}[
        variant.optimizer
    ]
    optimizer = torch.optim.AdamW(params, lr=2e-4, weight_decay=1e-4, **kwargs)
    objective = DcptObjective()
    forward = objective
    if variant.compile:
        forward = torch.compile(lambda b, m: objective(b, m))

    def step():
        optimizer.zero_grad(set_to_none=variant.set_to_none)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant.bf16):
            loss, _ = forward(batch, modules)
        loss.backward()
        optimizer.step()

    return step, modules


def measure(variant: Variant, steps: int, warmup: int):
    step, modules = build_step(variant)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    warm_s = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    weights = torch.cat([p.detach().flatten() for m in modules.values() for p in m.parameters()])
    return statistics.median(times), warm_s, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)

    variants = [
        Variant("baseline fp32 (foreach AdamW, set_to_none)"),
        Variant("official-like (for-loop AdamW, zero-filled grads)", optimizer="for-loop", set_to_none=False),
        Variant("+ fused AdamW", optimizer="fused"),
        Variant("+ channels_last", channels_last=True),
        Variant("+ channels_last + fused AdamW", channels_last=True, optimizer="fused"),
        Variant("+ bf16 autocast (not exact)", bf16=True),
    ]
    if args.compile:
        variants.append(Variant("+ torch.compile", compile=True))

    net = make_modules()
    n_params = sum(p.numel() for m in net.values() for p in m.parameters())
    print(
        f"DCPT step: nafnet-w16-28 + classifier ({n_params / 1e6:.2f} M parameters), batch {BATCH}, "
        f"{PATCH}x{PATCH}, {CLASSES} classes, {THREADS} threads, torch {torch.__version__}"
    )
    print("caveat: the machine is shared with other jobs; medians are noisy, compare ratios within one run\n")
    print(f"{'variant':<52} {'median s/step':>13} {'vs baseline':>11} {'max |dw|':>10}  warm-up s")
    base_time, base_weights = None, None
    results = []
    for variant in variants:
        median, warm_s, weights = measure(variant, args.steps, args.warmup)
        if base_time is None:
            base_time, base_weights = median, weights
        diff = (weights - base_weights).abs().max().item()
        exact = not variant.bf16
        results.append((variant, median, exact, diff))
        print(
            f"{variant.name:<52} {median:>13.3f} {base_time / median:>10.2f}x {diff:>10.2e}  {warm_s:.1f}",
            flush=True,
        )

    best_variant, best, _, _ = min((r for r in results if r[2]), key=lambda r: r[1])
    print(f"\nfastest fp32 variant: {best_variant.name} ({best:.3f} s); differences under ~5% are noise here")
    print("reference: the official implementation's step is ~0.6 s on this machine; goal <= 0.42 s")
    print("step_time_s below is the baseline: the path `dcpt pretrain` takes by default")
    print(f"step_time_s={base_time:.3f}")


if __name__ == "__main__":
    main()
