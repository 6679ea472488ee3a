"""Write and read throughput (pairs/s) of the two make-dataset formats: PNG folders vs tar shards.

    python benchmarks/shards_throughput.py [--pairs 320] [--size 128] [--repeats 3] [--shard-size 100]

Source: `--size` square crops of the embedded sample images (`dcpt.data.load_samples`), seeded; each
crop gives 2 types (gaussian_noise, jpeg) x 2 repetitions, so `--pairs` / 4 crops. Rows, one process,
no DataLoader workers (per-core figures):

- make-dataset: `make_paired_dataset(..., format=...)` end to end (plan, degrade, PNG-encode, store);
- store only: the same premade pairs PNG-encoded and stored (folders: two atomic image writes per pair;
  shards: one atomic tar per `--shard-size` pairs), which is what the format changes;
- read + decode: every pair decoded to tensors (`PairedFolderDataset` vs `ShardStream`);
- read bytes: the files' bytes only (two files per pair vs one streamed tar per shard).

Reads follow the writes, so the files are in the page cache: these are decode and file-system costs,
not disk or network speed. The variants run in alternation, `--repeats` rounds, and the medians are
printed with the shards / folders ratio and the bytes per pair, twice: per CPU second of this process
(what one dedicated core does; excludes waits for fsync and the disk) and per wall second (includes
them, and any time the scheduler gave to other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from dcpt.data import make_paired_dataset, write_image
from dcpt.data.paired import PairedFolderDataset
from dcpt.data.samples import load_samples
from dcpt.data.shards import encode_png, read_samples, resolve, write_shard
from dcpt.data.shards_stream import ShardStream
from dcpt.degrade import apply

TYPES = ["gaussian_noise", "jpeg"]
PER_IMAGE = 2


def make_crops(folder: Path, count: int, size: int) -> list:
    """`count` seeded `size` x `size` crops of the embedded images, written as PNGs; returns them."""
    images = [img for _, img in load_samples("all") if min(img.shape[1:]) >= size]
    g = torch.Generator().manual_seed(0)
    crops = []
    for k in range(count):
        img = images[k % len(images)]
        top = int(torch.randint(img.shape[1] - size + 1, (), generator=g))
        left = int(torch.randint(img.shape[2] - size + 1, (), generator=g))
        crop = img[:, top : top + size, left : left + size].contiguous()
        write_image(folder / f"crop{k:04d}.png", crop)
        crops.append(crop)
    return crops


def premade_pairs(crops: list) -> list:
    pairs = []
    for k, gt in enumerate(crops):
        for t in TYPES:
            for r in range(PER_IMAGE):
                lq = apply(t, gt[None], 50.0 if t == "jpeg" else 25.0, seeds=[k * 10 + r])[0]
                pairs.append((f"{k:04d}_{t}_{r}", lq, gt))
    return pairs


def make(src: Path, out: Path, fmt: str, shard_size: int) -> int:
    records = make_paired_dataset(
        src, out, TYPES, per_image=PER_IMAGE, format=fmt, shard_size=shard_size, progress=False
    )
    return len(records)


def store_folders(pairs: list, out: Path) -> None:
    for name, lq, gt in pairs:
        write_image(out / "gt" / f"{name}.png", gt)
        write_image(out / "lq" / f"{name}.png", lq)


def store_shards(pairs: list, out: Path, shard_size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for s in range(0, len(pairs), shard_size):
        samples = [(n, encode_png(lq), encode_png(gt), {"key": n}) for n, lq, gt in pairs[s : s + shard_size]]
        write_shard(out / f"shard-{s // shard_size:06d}.tar", samples)


def read_folders(out: Path) -> int:
    ds = PairedFolderDataset(out, layout="generic")
    return sum(1 for k in range(len(ds)) if ds[k]["lq"].numel())


def read_shards(out: Path) -> int:
    return sum(1 for item in ShardStream(str(out)) if item["lq"].numel())


def bytes_folders(out: Path) -> int:
    return sum(len(p.read_bytes()) > 0 for side in ("lq", "gt") for p in (out / side).iterdir()) // 2


def bytes_shards(out: Path) -> int:
    info, urls = resolve(str(out))
    return sum(1 for e, url in zip(info["shards"], urls) for _ in read_samples(url, set(range(e["count"]))))


def size_of(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern) if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=320)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="shards-bench-"))
    try:
        crops = make_crops(work / "clean", args.pairs // (len(TYPES) * PER_IMAGE), args.size)
        pairs = premade_pairs(crops)
        n = len(pairs)
        times: dict = {}

        def timed(row: str, fmt: str, fn) -> None:
            start, cpu = time.perf_counter(), time.process_time()
            done = fn()
            elapsed, used = time.perf_counter() - start, time.process_time() - cpu
            if done is not None and done != n:
                raise SystemExit(f"{row} {fmt}: {done} pairs, expected {n}")
            times.setdefault((row, fmt, "wall"), []).append(n / elapsed)
            times.setdefault((row, fmt, "cpu"), []).append(n / max(used, 1e-9))

        for r in range(args.repeats):
            made = {fmt: work / f"made-{fmt}-{r}" for fmt in ("folders", "shards")}
            stored = {fmt: work / f"stored-{fmt}-{r}" for fmt in ("folders", "shards")}
            for fmt in ("folders", "shards"):
                timed("make-dataset", fmt, partial(make, work / "clean", made[fmt], fmt, args.shard_size))
            timed("store only", "folders", partial(store_folders, pairs, stored["folders"]))
            timed("store only", "shards", partial(store_shards, pairs, stored["shards"], args.shard_size))
            timed("read + decode", "folders", partial(read_folders, made["folders"]))
            timed("read + decode", "shards", partial(read_shards, made["shards"]))
            timed("read bytes", "folders", partial(bytes_folders, made["folders"]))
            timed("read bytes", "shards", partial(bytes_shards, made["shards"]))
        folder_bytes = size_of(made["folders"] / "lq", "*.png") + size_of(made["folders"] / "gt", "*.png")
        shard_bytes = size_of(made["shards"], "shard-*.tar")
        rows = ["make-dataset", "store only", "read + decode", "read bytes"]
        print(f"{n} pairs of {args.size}x{args.size}, shards of {args.shard_size}, median of {args.repeats}")
        for clock, title in (("cpu", "pairs per CPU second"), ("wall", "pairs per wall second")):
            print(f"{title:<22}{'folders':>10}{'shards':>10}{'shards/folders':>16}")
            for row in rows:
                f = statistics.median(times[(row, "folders", clock)])
                s = statistics.median(times[(row, "shards", clock)])
                print(f"{row:<22}{f:>10.1f}{s:>10.1f}{s / f:>15.2f}x")
        print(
            f"bytes per pair: folders {folder_bytes / n:.0f} (file contents), shards {shard_bytes / n:.0f} "
            f"(tar, with headers and json); files: folders {2 * n}, shards {len(list(made['shards'].glob('*.tar')))}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
