"""Throughput of every registered degradation: batched `dcpt.degrade.apply` vs a per-image numpy/OpenCV loop.

    python benchmarks/degrade_throughput.py [--device cpu|cuda|all] [--batch 16] [--size 256]
                                            [--repeats 7] [--threads 2] [--types gaussian_blur,jpeg]

Images are crops of skimage's astronaut photograph (float32). Each op runs at the middle of its contact-
sheet levels (55% of its range). Batched: images/s of one `apply` call on the whole batch. Loop: images/s
of the per-image baseline (``BASELINES`` in every ``benchmarks/baselines_*.py``, one ``H x W x 3`` float32
image at a time, numpy randomness from a ``numpy.random.Generator``, kernels built per image, OpenCV
filtering), always on CPU. Both report the median of `--repeats` timings after one warm-up call, the two timed in
alternation so that load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import pathlib
import statistics
import time

import cv2
import numpy as np
import torch
from skimage import data

from dcpt import degrade


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


def interleaved_medians(fns, repeats: int, sync=lambda: None) -> list:
    """Median seconds of each function, timed in alternation (one warm-up each) so that load from other
    processes hits every contender alike."""
    times = [[] for _ in fns]
    for rep in range(repeats + 1):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            sync()
            if rep:
                record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def run_device(device: str, names, baselines, images, args) -> list:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    print(f"# device={device}")
    for name in names:
        spec = degrade.DEGRADATIONS.get(name)
        level = spec.sheet_levels()[1]
        gen = torch.Generator().manual_seed(0)
        fns = [lambda name=name, level=level, gen=gen: degrade.apply(name, x, level, generator=gen)]
        if name in baselines:
            rng, fn = np.random.default_rng(0), baselines[name]
            fns.append(lambda fn=fn, level=level, rng=rng: [fn(img, level, rng) for img in images])
        seconds = interleaved_medians(fns, args.repeats, sync)
        batched = args.batch / seconds[0]
        loop = args.batch / seconds[1] if len(seconds) > 1 else None
        ratio = batched / loop if loop else None
        rows.append((name, spec.family, batched, loop, ratio))
        loop_text = f"{loop:.1f}" if loop else "n/a"
        ratio_text = f"{ratio:.2f}" if ratio else "n/a"
        print(f"{name} batched_ips={batched:.1f} loop_ips={loop_text} ratio={ratio_text}", flush=True)
    return rows


def summarise(rows) -> None:
    families = sorted({r[1] for r in rows})
    print("# summary (geometric-mean batched/loop ratio per family; the lowest ratio and its type)")
    for family in families:
        ratios = [(r[4], r[0]) for r in rows if r[1] == family and r[4]]
        if not ratios:
            print(f"{family}: no baselines")
            continue
        geo = math.exp(sum(math.log(r) for r, _ in ratios) / len(ratios))
        low = min(ratios)
        print(f"{family}: geomean_ratio={geo:.2f} min_ratio={low[0]:.2f} ({low[1]}) types={len(ratios)}")
    slow = [r[0] for r in rows if r[4] is not None and r[4] < 1.0]
    print(f"slower than the loop: {', '.join(slow) if slow else 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda or all (cpu, plus cuda when available)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads (fair comparison)")
    parser.add_argument("--types", default="", help="comma-separated names (default: every registered op)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    names = [degrade.DEGRADATIONS.canonical(n.strip()) for n in args.types.split(",") if n.strip()]
    names = names or degrade.DEGRADATIONS.names()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    baselines = load_baselines()
    images = astronaut_batch(args.batch, args.size)
    print(
        f"# degrade throughput: batch={args.batch} size={args.size}x{args.size} float32, "
        f"median of {args.repeats} interleaved runs after 1 warm-up, level = 55% of each range; "
        f"torch.set_num_threads({args.threads}), cv2.setNumThreads({args.threads}); "
        f"loop baselines from {len(baselines)} types, always on CPU; torch {torch.__version__}, "
        f"OpenCV {cv2.__version__}"
    )
    for device in devices:
        summarise(run_device(device, names, baselines, images, args))


if __name__ == "__main__":
    main()
