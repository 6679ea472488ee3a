"""Seconds per DCPT pre-training step on the CPU: ours, with each optimisation switched on, against the
official release's step.

The step: NAFNet width 16, encoder (1, 1, 1, 28), middle 1, decoder (1, 1, 1, 1) (`nafnet-w16-28`),
batch 4 of 64 x 64 crops, 6 degradation classes, 2 threads; two forward passes (features of lq ->
classifier, net(gt); ours by default one pass over [lq; gt]), one backward, AdamW over net and
classifier (`DcptObjective`).

The ``official`` row runs the DCPT release's own code when ``DCPT_RELEASE_DIR`` names a checkout of
MILab-PKU/dcpt: its `NAFNetBaseline` and `PromptIR_NoImg_DC` (imported from a scratch copy through
``scripts/make_release_fixtures.load_release_class``'s helpers, never copied into this repository)
and the shape of its `DegradationClassificationPretrainModel.optimize_parameters`: forward hooks on
``decoder{i}.j`` collecting features, ``net_g(gt)`` then ``net_g(lq, hook=True)``, the classifier
on the reversed hook outputs, CE + L1, one backward and two AdamW optimisers built with default
arguments (on the CPU that is the per-parameter for-loop implementation). Without the variable the
row is an imitation (our modules, two default AdamW, ``zero_grad()``) and says so.

Variants are built once, then timed in alternation (one step of each per round), so a shared machine
slows them alike; each row is the median over `--steps` rounds after `--warmup`. Besides wall time the
table gives the process CPU time per step, which a busy machine inflates less, as long as one thread
computes (``--threads 1``): with two, a thread that reaches a barrier first spins while the other waits
for a core, so the CPU time of a crowded run counts that spinning too. ``max |dw|`` is the largest weight
difference from our baseline after the same steps: all but bf16 compute in fp32 and differ only in the
order of floating-point sums, which Adam's normalisation amplifies for parameters with near-zero
gradients, so it is bounded by about ``2 * lr * steps``, not a sign of error.

    DCPT_RELEASE_DIR=/tmp/releases/dcpt python benchmarks/step_time.py [--steps 10] [--warmup 3] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

from dcpt.models import create_model
from dcpt.models.classifier import DegradationClassifier
from dcpt.objectives import DcptObjective

BATCH, PATCH, CLASSES, THREADS, LR = 4, 64, 6, 2, 2e-4
NET = dict(width=16, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
ENGINE_DEFAULT: dict = dict(channels_last=True, optimizer="fused", one_pass=True)  # what `dcpt pretrain` runs


@dataclass(frozen=True)
class Variant:
    name: str
    channels_last: bool = False
    bf16: bool = False
    optimizer: str = "foreach"  # foreach | for-loop | fused
    compile: bool = False
    official: bool = False
    one_pass: bool = False  # one forward over [lq; gt] instead of two
    flush_denormal: bool = False  # subnormal floats computed as zero during the step


def make_batch(channels_last: bool = False) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(BATCH, 3, PATCH, PATCH, generator=g)
    lq = (gt + 0.1 * torch.randn(BATCH, 3, PATCH, PATCH, generator=g)).clamp(0, 1)
    if channels_last:
        gt, lq = (t.contiguous(memory_format=torch.channels_last) for t in (gt, lq))
    return {"lq": lq, "gt": gt, "label": torch.arange(BATCH) % CLASSES}


def make_modules() -> Dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    net = create_model("nafnet-w16-28")
    return {"net": net, "classifier": DegradationClassifier(net.feature_channels, CLASSES)}


def _adamw(params, kind: str) -> torch.optim.Optimizer:
    kwargs = {"foreach": {"foreach": True}, "for-loop": {"foreach": False}, "fused": {"fused": True}}[kind]
    return torch.optim.AdamW(params, lr=LR, weight_decay=1e-4, **kwargs)


def build_ours(variant: Variant):
    """Our step as `engine.loop.fit` runs it (one AdamW over both modules, ``set_to_none``)."""
    modules = make_modules()
    batch = make_batch(variant.channels_last)
    if variant.channels_last:
        for m in modules.values():
            m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = _adamw([p for m in modules.values() for p in m.parameters()], variant.optimizer)
    objective = DcptObjective(one_pass=variant.one_pass)
    forward: Callable = torch.compile(objective) if variant.compile else objective

    def step() -> None:
        torch.set_flush_denormal(variant.flush_denormal)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant.bf16):
            loss, _ = forward(batch, modules)
        loss.backward()
        optimizer.step()
        torch.set_flush_denormal(False)

    return step, modules


def release_classes(checkout: Path):
    """The release's `NAFNetBaseline` and `PromptIR_NoImg_DC`, imported from a scratch copy."""
    sys.path.insert(0, str(SCRIPTS))
    from make_release_fixtures import release_class, scratch_package  # noqa: E402

    deps = Path(os.environ.get("DCPT_RELEASE_DEPS", "/tmp/releases/deps"))
    if deps.is_dir() and str(deps) not in sys.path:
        sys.path.append(str(deps))
    scratch = Path(tempfile.mkdtemp(prefix="dcpt-release-"))
    scratch_package(checkout, scratch)
    net_cls = release_class(scratch, "nafnet_arch", "NAFNetBaseline")
    dc_cls = release_class(scratch, "degrad_classify_arch", "PromptIR_NoImg_DC")
    return net_cls, dc_cls


def build_official(variant: Variant, checkout: Optional[Path]):
    """The release's step (module docstring); an imitation with our modules without a checkout."""
    batch = make_batch()
    torch.manual_seed(0)
    if checkout is None:
        modules = make_modules()
        net_g, net_dc = modules["net"], modules["classifier"]
        opt_g, opt_dc = (torch.optim.AdamW(m.parameters(), lr=LR, weight_decay=1e-4) for m in (net_g, net_dc))

        def step() -> None:
            opt_g.zero_grad()
            opt_dc.zero_grad()
            loss, _ = DcptObjective()(batch, modules)
            loss.backward()
            opt_g.step()
            opt_dc.step()

        return step, modules
    net_cls, dc_cls = release_classes(checkout)
    net_g = net_cls(img_channel=3, **NET)
    net_dc = dc_cls(feature_dims=[NET["width"] * 2**i for i in range(4)], num_classes=CLASSES)
    hook_outputs: List[torch.Tensor] = []
    for name, module in net_g.named_modules():  # the release's hook selection, hook_names: decoder
        if "decoder" in name and name.count(".") == 1:
            module.register_forward_hook(lambda m, i, out: hook_outputs.append(out))
    opt_g = torch.optim.AdamW(net_g.parameters(), lr=LR, weight_decay=1e-4)
    opt_dc = torch.optim.AdamW(net_dc.parameters(), lr=LR, weight_decay=1e-4)
    net_g.train()

    def step() -> None:
        net_dc.eval()
        opt_g.zero_grad()
        pix = net_g(batch["gt"], hook=False)
        hook_outputs.clear()
        total = F.l1_loss(pix, batch["gt"])
        net_dc.train()
        opt_dc.zero_grad()
        net_g(batch["lq"], hook=True)
        logits = net_dc(batch["lq"], hook_outputs[::-1])
        total = total + F.cross_entropy(logits, batch["label"])
        total.backward()
        opt_g.step()
        opt_dc.step()
        hook_outputs.clear()

    return step, {"net": net_g, "classifier": net_dc}


def weights(modules: Dict[str, torch.nn.Module]) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for m in modules.values() for p in m.parameters()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="1 on a busy machine: no thread waits on another there"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    release = os.environ.get("DCPT_RELEASE_DIR")
    checkout = Path(release) if release else None
    if checkout is not None and not (checkout / "basicsr" / "archs" / "nafnet_arch.py").is_file():
        raise SystemExit(f"DCPT_RELEASE_DIR={release}: no basicsr/archs/nafnet_arch.py there")

    official = "official (release code)" if checkout else "official-like (imitation: no DCPT_RELEASE_DIR)"
    variants = [
        Variant(official, optimizer="for-loop", official=True),
        Variant("ours: baseline fp32 (NCHW, foreach AdamW)"),
        Variant("ours + fused AdamW", optimizer="fused"),
        Variant("ours + channels_last", channels_last=True),
        Variant("ours + channels_last + fused AdamW", channels_last=True, optimizer="fused"),
        Variant("ours + channels_last + fused + one pass (engine default)", **ENGINE_DEFAULT),
        Variant("ours + default + flush denormals", **ENGINE_DEFAULT, flush_denormal=True),
        Variant("ours + bf16 autocast (not exact)", bf16=True),
    ]
    if args.compile:
        variants.append(Variant("ours + default + torch.compile", **ENGINE_DEFAULT, compile=True))

    steps = [build_official(v, checkout) if v.official else build_ours(v) for v in variants]
    n_params = sum(p.numel() for m in steps[1][1].values() for p in m.parameters())
    print(
        f"DCPT step: nafnet-w16-28 + classifier ({n_params / 1e6:.2f} M parameters), batch {BATCH}, "
        f"{PATCH}x{PATCH}, {CLASSES} classes, {args.threads} threads, torch {torch.__version__}; "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    wall: List[List[float]] = [[] for _ in variants]
    cpu: List[List[float]] = [[] for _ in variants]
    warm_s = [0.0] * len(variants)
    for round_ in range(args.warmup + args.steps):
        for i, (step, _) in enumerate(steps):
            t, c = time.perf_counter(), time.process_time()
            step()
            dt, dc = time.perf_counter() - t, time.process_time() - c
            if round_ < args.warmup:
                warm_s[i] += dt
            else:
                wall[i].append(dt)
                cpu[i].append(dc)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")

    med_wall = [statistics.median(w) for w in wall]
    med_cpu = [statistics.median(c) for c in cpu]
    base_weights = weights(steps[1][1])
    print(
        f"{'variant':<50} {'wall s':>7} {'cpu s':>7} {'vs official':>11} {'(cpu)':>6} "
        f"{'vs baseline':>11} {'max |dw|':>9}  warm-up s"
    )
    for i, variant in enumerate(variants):
        diff = "-" if variant.official else f"{(weights(steps[i][1]) - base_weights).abs().max().item():.1e}"
        print(
            f"{variant.name:<50} {med_wall[i]:>7.3f} {med_cpu[i]:>7.3f} {med_wall[i] / med_wall[0]:>10.2f}x "
            f"{med_cpu[i] / med_cpu[0]:>5.2f}x {med_wall[1] / med_wall[i]:>10.2f}x {diff:>9}  {warm_s[i]:.1f}",
            flush=True,
        )
    exact = [i for i, v in enumerate(variants) if not v.official and not v.bf16]
    best = min(exact, key=lambda i: med_wall[i])
    print(
        f"\nfastest fp32 variant: {variants[best].name}: {med_wall[best] / med_wall[0]:.2f}x the official step"
    )
    print("goal: <= 0.5x the official step; ratios within ~5% are noise on a shared machine")
    print(f"step_time_s={med_wall[1]:.3f} official_s={med_wall[0]:.3f} ratio={med_wall[1] / med_wall[0]:.3f}")


if __name__ == "__main__":
    main()
