"""Fraction of a GPU's peak that dcpt reaches: a training step's bf16 TFLOP/s, synthesis's HBM bandwidth.

Why a FLOP count and not a profiler: `torch.utils.flop_counter.FlopCounterMode` counts the matmul and
convolution FLOPs of one forward + backward exactly from the shapes, so achieved TFLOP/s = FLOPs /
measured step time, compared with the chip's dense bf16 peak from the table below (vendor data
sheets, dense, no sparsity). Elementwise work is not counted, so the fraction is a lower bound.

    python benchmarks/gpu_peak.py step [--model nafnet-w16-28] [--batch 8] [--patch 128] [--steps 20] --json F
    python benchmarks/gpu_peak.py synthesis --log degrade.log --batch 16 --size 256 --json F
    python benchmarks/gpu_peak.py merge --out gpu-check.json A.json B.json ...

Called by ``benchmarks/gpu_check.sh``; `step` and `synthesis` need a CUDA device (`--device cpu` for a dry
run of `step`).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

# (substring of torch.cuda.get_device_name(), dense bf16 TFLOP/s, HBM TB/s); first match wins,
# so the more specific names come first.
PEAKS: Tuple[Tuple[str, float, float], ...] = (
    ("H200", 989.0, 4.8),
    ("H100 PCIe", 756.0, 2.0),
    ("H100 NVL", 835.0, 3.9),
    ("H100", 989.0, 3.35),  # SXM
    ("A100-SXM4-80GB", 312.0, 2.039),
    ("A100-PCIE-80GB", 312.0, 1.935),
    ("A100", 312.0, 1.555),  # 40 GB
    ("L40S", 362.0, 0.864),
    ("L4", 121.0, 0.3),
    ("A10", 125.0, 0.6),
)


def device_peak(name: str) -> Optional[Dict[str, float]]:
    """The table row for a device name, or None for an unknown device (fractions are then omitted)."""
    for key, tflops, tbps in PEAKS:
        if key.lower() in name.lower():
            return {"bf16_tflops": tflops, "hbm_tbps": tbps, "table_key": key}  # type: ignore[dict-item]
    return None


def step_flops(net, batch, patch: int, device) -> int:
    """FLOPs of one forward + backward of `net` on `batch` (counted from shapes, dtype-independent)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        out = net(batch)
        torch.nn.functional.l1_loss(out, batch).backward()
    net.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def run_step(args) -> dict:
    import torch

    from dcpt.models import create_model

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_peak.py step: no CUDA device")
    torch.manual_seed(0)
    net = create_model(args.model).to(device).to(memory_format=torch.channels_last)
    batch = torch.rand(args.batch, 3, args.patch, args.patch, device=device).contiguous(
        memory_format=torch.channels_last
    )
    flops = step_flops(net, batch, args.patch, device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.l1_loss(net(batch), batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = device_peak(name)
    result = dict(
        device=name,
        model=args.model,
        batch=args.batch,
        patch=args.patch,
        step_s=seconds,
        flops_per_step=flops,
        achieved_tflops=flops / seconds / 1e12,
    )
    if peak:
        result["peak_bf16_tflops"] = peak["bf16_tflops"]
        result["fraction_of_peak"] = result["achieved_tflops"] / peak["bf16_tflops"]
    frac = f", {result['fraction_of_peak']:.1%} of the {peak['table_key']} bf16 peak" if peak else ""
    print(
        f"step {args.model} batch {args.batch} x {args.patch}^2 on {name}: {seconds * 1e3:.1f} ms, "
        f"{flops / 1e9:.1f} GFLOP, {result['achieved_tflops']:.1f} TFLOP/s{frac}"
    )
    return result


def run_synthesis(args) -> dict:
    """HBM fraction of each op's batched throughput on the GPU: every op reads and writes the batch once
    at least (fp32, 3 channels: 24 bytes a pixel), so bytes/s is a lower bound on its traffic."""
    import torch

    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "unknown"
    peak = device_peak(name)
    text = Path(args.log).read_text()
    section = text.split("# device=cuda", 1)[-1] if "# device=cuda" in text else ""
    rows = {}
    for match in re.finditer(r"^(\S+) batched_ips=([0-9.]+)", section, re.M):
        ips = float(match.group(2))
        gbps = ips * 24 * args.size**2 / 1e9
        rows[match.group(1)] = dict(images_per_s=ips, min_gb_per_s=gbps)
        if peak:
            rows[match.group(1)]["fraction_of_hbm"] = gbps / (peak["hbm_tbps"] * 1e3)
    fractions = sorted(r.get("fraction_of_hbm", 0.0) for r in rows.values())
    median = statistics.median(fractions) if fractions else None
    if median is not None:
        print(f"synthesis on {name}: {len(rows)} ops, median {median:.1%} of HBM bandwidth (lower bound)")
    return dict(device=name, ops=rows, median_fraction_of_hbm=median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    step = sub.add_parser("step", help="bf16 training step: TFLOP/s and fraction of peak")
    step.add_argument("--model", default="nafnet-w16-28")
    step.add_argument("--batch", type=int, default=8)
    step.add_argument("--patch", type=int, default=128)
    step.add_argument("--steps", type=int, default=20)
    step.add_argument("--device", default="cuda")
    step.add_argument("--json", type=Path, required=True)
    synth = sub.add_parser("synthesis", help="degradation throughput as a fraction of HBM bandwidth")
    synth.add_argument("--log", type=Path, required=True, help="the output of degrade_throughput.py")
    synth.add_argument("--batch", type=int, default=16)
    synth.add_argument("--size", type=int, default=256)
    synth.add_argument("--json", type=Path, required=True)
    merge = sub.add_parser("merge", help="one JSON of all figures")
    merge.add_argument("--out", type=Path, required=True)
    merge.add_argument("parts", nargs="*", type=Path)
    args = parser.parse_args()
    if args.command == "merge":
        figures = {}
        for part in args.parts:
            if part.is_file():
                try:
                    figures[part.stem] = json.loads(part.read_text())
                except json.JSONDecodeError:
                    figures[part.stem] = {"unparsed": part.read_text()[-2000:]}
        args.out.write_text(json.dumps(figures, indent=1))
        print(f"wrote {args.out} ({len(figures)} parts)")
        return
    result = run_step(args) if args.command == "step" else run_synthesis(args)
    args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
