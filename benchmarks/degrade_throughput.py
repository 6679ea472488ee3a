"""Throughput of every registered degradation: batched `dcpt.degrade.apply` vs a per-image numpy/OpenCV loop.

    python benchmarks/degrade_throughput.py [--batch 16] [--size 128] [--threads 2] [--repeats 7]
                                            [--types gaussian_blur,jpeg] [--clock wall|cpu] [--json PATH]

Images are crops of skimage's astronaut photograph (float32). Each op runs at the middle of its contact-
sheet levels (55% of its range). Batched: one `apply` call on the whole batch. Loop: the per-image
baseline (``BASELINES`` in every ``benchmarks/baselines_*.py``, one ``H x W x 3`` float32 image at a time,
numpy randomness from a ``numpy.random.Generator``, OpenCV filtering), always on CPU. Both are the median
of `--repeats` timings after one warm-up call, timed in alternation so that load from other processes hits
both alike, and printed as milliseconds per image in one table; ratio = loop time / batched time (the
goal: 3x). The last line counts the ops below `--target`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import time

import cv2
import numpy as np
import torch
from skimage import data

from dcpt import degrade
from dcpt.fileio import atomic_write


def load_baselines() -> dict:
    """Merge ``BASELINES`` from every ``baselines_*.py`` beside this script."""
    merged = {}
    for path in sorted(pathlib.Path(__file__).parent.glob("baselines_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(getattr(module, "BASELINES", {}))
    return merged


def astronaut_batch(batch: int, size: int) -> np.ndarray:
    """`batch` different ``size x size`` crops of the astronaut photo, ``B x H x W x 3`` float32 in [0, 1]."""
    photo = data.astronaut()
    scale = 1.5 * size / min(photo.shape[:2])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    room_y, room_x = photo.shape[0] - size, photo.shape[1] - size
    crops = []
    for i in range(batch):
        top = (i * 37) % (room_y + 1)
        left = (i * 53) % (room_x + 1)
        crops.append(photo[top : top + size, left : left + size])
    return np.stack(crops).astype(np.float32) / 255.0


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""`wall` is what a data loader waits for; `cpu` (seconds of CPU used by this process, all threads summed)
is the fallback on a machine so loaded that wall times of a niced process mean nothing."""


def interleaved_medians(fns, repeats: int, sync=lambda: None, clock=time.perf_counter) -> list:
    """Median seconds of each function, timed in alternation (one warm-up each) so that load from other
    processes hits every contender alike."""
    times = [[] for _ in fns]
    for rep in range(repeats + 1):
        for fn, record in zip(fns, times):
            start = clock()
            fn()
            sync()
            if rep:
                record.append(clock() - start)
    return [statistics.median(t) for t in times]


def run_device(device: str, names, baselines, images, args) -> list:
    """One row per op: name, family, loop and batched milliseconds per image, and their ratio."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    for name in names:
        spec = degrade.DEGRADATIONS.get(name)
        level = spec.sheet_levels()[1]
        gen = torch.Generator().manual_seed(0)
        fns = [lambda name=name, level=level, gen=gen: degrade.apply(name, x, level, generator=gen)]
        if name in baselines:
            rng, fn = np.random.default_rng(0), baselines[name]
            fns.append(lambda fn=fn, level=level, rng=rng: [fn(img, level, rng) for img in images])
        seconds = interleaved_medians(fns, args.repeats, sync, CLOCKS[args.clock])
        batched_ms = 1e3 * seconds[0] / args.batch
        loop_ms = 1e3 * seconds[1] / args.batch if len(seconds) > 1 else None
        ratio = loop_ms / batched_ms if loop_ms else None
        row = {"op": name, "family": spec.family, "device": device, "loop_ms_per_image": loop_ms}
        row.update(batched_ms_per_image=batched_ms, ratio=ratio)
        rows.append(row)
        print(table_line(row), flush=True)
    return rows


def table_line(row) -> str:
    loop = f"{row['loop_ms_per_image']:11.3f}" if row["loop_ms_per_image"] else f"{'n/a':>11s}"
    ratio = f"{row['ratio']:6.2f}" if row["ratio"] else f"{'n/a':>6s}"
    return (
        f"| {row['op']:24s} | {row['family']:11s} | {loop} | {row['batched_ms_per_image']:12.3f} | {ratio} |"
    )


def write_json(path: str, header: dict, rows: list) -> None:
    atomic_write(path, json.dumps({**header, "rows": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or all (cpu, plus cuda when available)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads (fair comparison)")
    parser.add_argument("--types", default="", help="comma-separated names (default: every registered op)")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="wall (default) or cpu seconds"
    )
    parser.add_argument("--target", type=float, default=3.0, help="the ratio an op should reach")
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    names = [degrade.DEGRADATIONS.canonical(n.strip()) for n in args.types.split(",") if n.strip()]
    names = names or degrade.DEGRADATIONS.names()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    baselines = load_baselines()
    images = astronaut_batch(args.batch, args.size)
    header = {
        "batch": args.batch,
        "size": args.size,
        "threads": args.threads,
        "repeats": args.repeats,
        "clock": args.clock,
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "opencv": cv2.__version__,
    }
    print(
        f"# degrade throughput: batch={args.batch} size={args.size}x{args.size} float32, {args.clock} clock, "
        f"median of {args.repeats} interleaved runs after 1 warm-up, level = 55% of each range; "
        f"{args.threads} torch and OpenCV threads; loop baselines always on CPU; torch {torch.__version__}, "
        f"OpenCV {cv2.__version__}; 1-min load average {header['load_average']:.1f}"
    )
    print(f"| {'op':24s} | {'family':11s} | {'loop ms/img':>11s} | {'batch ms/img':>12s} | {'ratio':>6s} |")
    print(f"|{'-' * 26}|{'-' * 13}|{'-' * 13}|{'-' * 14}|{'-' * 8}|")
    rows = [row for device in devices for row in run_device(device, names, baselines, images, args)]
    timed = [r for r in rows if r["ratio"] is not None]
    below = [r["op"] for r in timed if r["ratio"] < args.target]
    print(
        f"below {args.target:g}x: {len(below)} of {len(timed)} ops with a loop baseline"
        + (f" ({', '.join(below)})" if below else "")
    )
    if args.json:
        write_json(args.json, {**header, "below_target": below, "target": args.target}, rows)


if __name__ == "__main__":
    main()
