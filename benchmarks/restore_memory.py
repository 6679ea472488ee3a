"""Peak resident memory and wall time of restoring a 3840 x 2160 image with nafnet-5d on the CPU.

Each mode runs in a fresh subprocess, so its peak resident set size (``getrusage(RUSAGE_SELF)
.ru_maxrss``) is that mode's real process peak: Python, torch, the weights, the input image, the
output and weight buffers and the activations. The network has random weights (seed 0): memory and
time do not depend on the weight values.

Modes: tiled (512 px tiles, 32 px overlap; 256 px tiles) at 4K; whole-image at 960 x 540 and
1920 x 1080, extrapolated linearly in pixels to 4K (labelled as an estimate); and a whole-image 4K
attempt under an address-space cap (``--cap-gb``), which normally fails fast rather than swapping a
shared machine. Heavy: about 10 minutes on 2 cores. Usage::

    python benchmarks/restore_memory.py [--width 3840 --height 2160] [--cap-gb 10] [--skip-whole-4k]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

GIB = 1024**3


def worker(args: argparse.Namespace) -> None:
    """Restore one random image in this process and print one JSON line with the measurements."""
    if args.cap_gb:
        cap = int(args.cap_gb * GIB)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import torch

    from dcpt.infer.tiling import count_tiles, grid_multiple, restore_tiled
    from dcpt.models import create_model

    torch.manual_seed(0)
    net = create_model("nafnet-5d").eval()
    img = torch.rand(1, 3, args.height, args.width, generator=torch.Generator().manual_seed(1))
    ready_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tile = args.tile or None
    start = time.perf_counter()
    status = "ok"
    try:
        out = restore_tiled(net, img, tile=tile, overlap=args.overlap, batch=1)
        assert out.shape == img.shape
    except (RuntimeError, MemoryError) as exc:
        status = f"failed: {' '.join(str(exc).split())[:120]}"
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "status": status,
                "wall_s": wall,
                "peak_gib": peak_kib * 1024 / GIB,
                "ready_gib": ready_kib * 1024 / GIB,
                "tiles": count_tiles(args.height, args.width, tile, args.overlap, grid_multiple(net)),
            }
        )
    )


def run_mode(
    label: str, width: int, height: int, tile: int, overlap: int, cap_gb: float, timeout: float
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--width",
        str(width),
        "--height",
        str(height),
        "--tile",
        str(tile),
        "--overlap",
        str(overlap),
        "--cap-gb",
        str(cap_gb),
    ]
    print(f"running {label} ...", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"label": label, "status": f"timed out after {timeout:.0f} s", "size": f"{width}x{height}"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-1:])[:120]
        return {
            "label": label,
            "status": f"crashed (exit {done.returncode}): {tail}",
            "size": f"{width}x{height}",
        }
    return {"label": label, "size": f"{width}x{height}", **json.loads(lines[-1])}


def linear_fit(points):
    """Least-squares ``y = a + b * x`` through two or more (x, y) points -> (a, b)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return mean_y - slope * mean_x, slope


def report(rows, width: int, height: int) -> None:
    print(f"\nnafnet-5d (random weights), CPU, restoring {width} x {height}; one fresh process per mode\n")
    print("| Mode | Image | Tiles | Peak RSS (GiB) | Model+image ready (GiB) | Wall (s) | Status |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        peak = f"{r['peak_gib']:.2f}" if "peak_gib" in r else "-"
        ready = f"{r['ready_gib']:.2f}" if "ready_gib" in r else "-"
        wall = f"{r['wall_s']:.1f}" if "wall_s" in r else "-"
        print(
            f"| {r['label']} | {r['size']} | {r.get('tiles', '-')} | {peak} | {ready} | {wall} | {r['status']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--tile", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument(
        "--cap-gb", type=float, default=0.0, help="address-space cap of the whole-image 4K attempt"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per mode")
    parser.add_argument(
        "--skip-whole-4k", action="store_true", help="do not attempt whole-image at full size"
    )
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    width, height, cap = args.width, args.height, args.cap_gb or 10.0
    rows = [
        run_mode("tiled 512 / 32", width, height, 512, 32, 0, args.timeout),
        run_mode("tiled 256 / 32", width, height, 256, 32, 0, args.timeout),
    ]
    whole = [run_mode("whole image", width // s, height // s, 0, 32, 0, args.timeout) for s in (4, 2)]
    rows += whole
    if not args.skip_whole_4k:
        rows.append(run_mode(f"whole image (cap {cap:g} GiB)", width, height, 0, 32, cap, args.timeout))
    report(rows, width, height)

    fitted = [r for r in whole if r.get("status") == "ok"]
    tiled = {r["label"]: r for r in rows[:2] if r.get("status") == "ok"}
    if len(fitted) < 2 or not tiled:
        print("\nnot enough completed modes for ratios")
        return
    pixels = [(int(r["size"].split("x")[0]) * int(r["size"].split("x")[1]), r) for r in fitted]
    mem_a, mem_b = linear_fit([(p, r["peak_gib"]) for p, r in pixels])
    time_a, time_b = linear_fit([(p, r["wall_s"]) for p, r in pixels])
    full = width * height
    est_mem, est_time = mem_a + mem_b * full, time_a + time_b * full
    print(
        f"\nwhole image at {width} x {height}, EXTRAPOLATED linearly in pixels from the two smaller whole-image "
        f"runs: peak RSS ~ {est_mem:.1f} GiB, wall ~ {est_time:.0f} s"
    )
    for label, r in tiled.items():
        print(
            f"{label}: peak RSS {r['peak_gib']:.2f} GiB = 1/{est_mem / r['peak_gib']:.1f} of the whole-image "
            f"estimate; wall {r['wall_s']:.0f} s = {r['wall_s'] / est_time:.2f} x the whole-image estimate; "
            f"goal < 3 GiB: {'met' if r['peak_gib'] < 3 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
