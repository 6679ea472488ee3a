"""Restoration throughput of dcpt's presets against the releases' own architecture code, side by side.

For each preset (`nafnet-5d`, `restormer-5d`, `swinir-5d`) the DCPT release's class is imported from a
checkout (``$DCPT_RELEASE_DIR``) through ``scripts/make_release_fixtures.py``'s loader, given seeded
weights, saved as a BasicSR ``.pth`` (``params_ema``) and loaded into dcpt's net through dcpt's own
release-checkpoint import, so both run identical weights. Both then restore the same input (skimage's
astronaut, 512 x 512, Gaussian noise sigma 25) through dcpt's tiled path (`restore_tiled`: same tile,
overlap, threads) under `torch.inference_mode`; only the inference switches differ
(`dcpt.infer.speed`). Each variant runs in a fresh subprocess, so its peak resident memory
(``ru_maxrss``) is its own; variants are run in alternation for `--rounds` rounds and the median
wall time is reported, with the ratio of median CPU seconds of the process (steadier than wall time
when other jobs share the cores; read ratios, not absolute figures). Every output is compared
with the release's fp32 output (max |diff|).

bf16 is judged by PSNR on a real restoration: the shipped fine-tuned demo net (nafnet-tiny) restores
the noisy astronaut in fp32 and in bf16; the table prints both PSNRs and the change.

    DCPT_RELEASE_DIR=/tmp/releases/dcpt DCPT_RELEASE_DEPS=/tmp/releases/deps \\
    python benchmarks/inference_vs_release.py [--models nafnet-5d,restormer-5d,swinir-5d] [--size 512]
        [--tile 256] [--overlap 32] [--threads 2] [--rounds 3] [--device cpu] [--compile] [--json F]

Without ``DCPT_RELEASE_DIR`` only dcpt's variants run (with seeded weights of their own).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
MODELS = ("nafnet-5d", "restormer-5d", "swinir-5d")
FOUR_K = 3840 * 2160
CLONE_HINT = (
    "DCPT_RELEASE_DIR is unset: only dcpt's variants run. To compare with the release: "
    "git clone https://github.com/MILab-PKU/dcpt /tmp/releases/dcpt && "
    "pip install --target /tmp/releases/deps einops && "
    "DCPT_RELEASE_DIR=/tmp/releases/dcpt DCPT_RELEASE_DEPS=/tmp/releases/deps python benchmarks/"
    + Path(__file__).name
)

# (name, side, channels_last, bf16, compile, tiles per forward)
VARIANTS = [
    ("release fp32", "release", False, False, False, 1),
    ("release bf16 (same autocast)", "release", False, True, False, 1),
    ("dcpt plain (NCHW, batch 1)", "dcpt", False, False, False, 1),
    ("dcpt channels-last + fused norm", "dcpt", True, False, False, 1),
    ("dcpt channels-last, 4 tiles/forward", "dcpt", True, False, False, 4),
    ("dcpt bf16 (NCHW)", "dcpt", False, True, False, 1),
    ("dcpt channels-last + bf16", "dcpt", True, True, False, 1),
]
COMPILE_VARIANT = ("dcpt channels-last + compile", "dcpt", True, False, True, 1)


def noisy_astronaut(size: int, sigma: float = 25.0):
    """(clean, noisy) 1 x 3 x size x size in [0, 1]: skimage's astronaut, resized, plus seeded noise."""
    from skimage import data

    img = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255.0
    if img.shape[-1] != size:
        img = torch.nn.functional.interpolate(img, size=(size, size), mode="bicubic", antialias=True)
    clean = img.clamp(0.0, 1.0)
    g = torch.Generator().manual_seed(0)
    noisy = (clean + torch.randn(clean.shape, generator=g) * sigma / 255.0).clamp(0.0, 1.0)
    return clean, noisy


def release_net(name: str, state_path: Path, scratch: Path):
    sys.path.insert(0, str(SCRIPTS))
    from make_release_fixtures import load_release_class

    deps = os.environ.get("DCPT_RELEASE_DEPS")
    spec, cls = load_release_class(
        Path(os.environ["DCPT_RELEASE_DIR"]), name, scratch, Path(deps) if deps else None
    )
    net = cls(**spec.full).eval()
    net.load_state_dict(torch.load(state_path, weights_only=True)["params_ema"], strict=True)
    return net


def worker(job: dict) -> None:
    """One variant in this (fresh) process: load, warm up with one whole restoration (every tile and
    batch shape the timed passes meet, so no first-call cost is timed), time `repeats` restorations."""
    from dcpt.infer.speed import InferenceOptions, prepare
    from dcpt.infer.tiling import restore_tiled

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    if job["side"] == "release":
        net = release_net(job["model"], Path(job["weights"]), Path(job["scratch"])).to(device)
        run = prepare(net, InferenceOptions(channels_last=False, bf16=job["bf16"]))
    else:
        from dcpt.infer.restore import load_model

        net = load_model(job["weights"], arch=job["model"], device=device)
        options = InferenceOptions(
            channels_last=job["channels_last"], bf16=job["bf16"], compile=job["compile"]
        )
        run = prepare(net, options)
    img = torch.load(job["input"], weights_only=True)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss_before = reset_peak_rss()
    start = time.perf_counter()
    restore_tiled(run, img, tile=job["tile"], overlap=job["overlap"], batch=job["batch"], align=job["align"])
    sync()
    warmup = time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(job["repeats"]):
        start, cpu_start = time.perf_counter(), time.process_time()
        out = restore_tiled(
            run, img, tile=job["tile"], overlap=job["overlap"], batch=job["batch"], align=job["align"]
        )
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else peak_rss() - rss_before
    torch.save(out.cpu(), job["output"])
    print(json.dumps(dict(times=times, cpu_times=cpu_times, warmup=warmup, peak_bytes=peak)))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> int:
    """The resident bytes now, after resetting the kernel's peak (``clear_refs`` 5), so that the peak
    read later is that of the restoration, not of loading the weights. Without /proc (not Linux) the
    peak cannot be reset and ``ru_maxrss`` since the process start is used."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS") * 1024
    except OSError:
        return 0


def peak_rss() -> int:
    try:
        return _status_kib("VmHWM") * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def spawn(job: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {job['variant']} of {job['model']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def seeded_weights(name: str, path: Path, scratch: Path) -> int:
    """Seeded weights for `name` (the release's keys when a release is given) saved as a BasicSR .pth;
    returns the grid alignment for tiling (the release's padding multiple)."""
    sys.path.insert(0, str(SCRIPTS))
    from make_release_fixtures import randomise

    from dcpt.infer.tiling import grid_multiple
    from dcpt.models import create_model

    ours = create_model(name)
    if os.environ.get("DCPT_RELEASE_DIR"):
        torch.manual_seed(0)
        net = release_net_unloaded(name, scratch)
    else:
        net = ours
    state = randomise(net, seed=1)
    torch.save({"params_ema": state}, path)
    return grid_multiple(ours)


def release_net_unloaded(name: str, scratch: Path):
    from make_release_fixtures import load_release_class

    deps = os.environ.get("DCPT_RELEASE_DEPS")
    spec, cls = load_release_class(
        Path(os.environ["DCPT_RELEASE_DIR"]), name, scratch, Path(deps) if deps else None
    )
    return cls(**spec.full)


def bf16_psnr(args, tmp: Path, clean, noisy) -> dict:
    """PSNR of the shipped fine-tuned demo net's restoration of the noisy astronaut, fp32 and bf16."""
    from dcpt.infer.speed import InferenceOptions, prepare
    from dcpt.infer.tiling import restore_tiled
    from dcpt.metrics.psnr import psnr
    from dcpt.models.checkpoint import load_checkpoint

    ckpt = ROOT / "src/dcpt/assets/demo/finetuned/nafnet-tiny-dcpt-seed0.safetensors"
    net = load_checkpoint(ckpt).eval()
    out = {}
    for bf16 in (False, True):
        run = prepare(net, InferenceOptions(channels_last=True, bf16=bf16))
        restored = restore_tiled(run, noisy, tile=args.tile, overlap=args.overlap).clamp(0, 1)
        out["bf16" if bf16 else "fp32"] = float(psnr(restored, clean)[0])
    out["noisy"] = float(psnr(noisy, clean)[0])
    out["change_db"] = out["bf16"] - out["fp32"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=512, help="input image side in pixels (default 512)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternated rounds, one timing per variant each"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--only", default="", help="comma-separated variant names to keep (substring match)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    has_release = bool(os.environ.get("DCPT_RELEASE_DIR"))
    if not has_release:
        print(CLONE_HINT)
    variants = [
        v for v in VARIANTS + ([COMPILE_VARIANT] if args.compile else []) if has_release or v[1] == "dcpt"
    ]
    if args.only:
        keep = [k.strip() for k in args.only.split(",")]
        variants = [v for v in variants if v[0] == "release fp32" or any(k in v[0] for k in keep)]
    if args.device.startswith("cuda"):
        variants = [v for v in variants if not v[2] or v[3]]  # channels-last matters on CPU; keep bf16
    torch.set_num_threads(args.threads)
    results = {
        "size": args.size,
        "tile": args.tile,
        "overlap": args.overlap,
        "threads": args.threads,
        "device": args.device,
        "load_before": os.getloadavg()[0],
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clean, noisy = noisy_astronaut(args.size)
        torch.save(noisy, tmp / "input.pt")
        results["bf16_psnr"] = bf16_psnr(args, tmp, clean, noisy)
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            results["models"][model] = run_model(args, tmp, model, variants)
    results["load_after"] = os.getloadavg()[0]
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def run_model(args, tmp: Path, model: str, variants) -> dict:
    weights = tmp / f"{model}.pth"
    align = seeded_weights(model, weights, tmp / f"scratch-{model}")
    timings = {v[0]: [] for v in variants}
    cpu_timings: dict = {v[0]: [] for v in variants}
    info: dict = {}
    for round_index in range(args.rounds):
        for name, side, channels_last, bf16, compiled, batch in variants:
            job = dict(
                model=model,
                variant=name,
                side=side,
                channels_last=channels_last,
                bf16=bf16,
                compile=compiled,
                batch=batch,
                weights=str(weights),
                input=str(tmp / "input.pt"),
                output=str(tmp / f"{model}-{len(info)}.pt"),
                scratch=str(tmp / f"w-{model}"),
                tile=args.tile,
                overlap=args.overlap,
                threads=args.threads,
                device=args.device,
                align=align,
                repeats=1,
            )
            result = spawn(job)
            timings[name] += result["times"]
            cpu_timings[name] += result["cpu_times"]
            if round_index == 0:
                info[name] = dict(
                    peak_bytes=result["peak_bytes"], warmup_s=result["warmup"], output=job["output"]
                )
            print(f"  {model} round {round_index + 1}: {name}: {result['times'][0]:.2f} s", flush=True)
    reference = torch.load(info[variants[0][0]]["output"], weights_only=True)
    mp = args.size * args.size / 1e6
    rows = {}
    for name in timings:
        seconds = statistics.median(timings[name])
        out = torch.load(info[name]["output"], weights_only=True)
        rows[name] = dict(
            seconds=seconds,
            mp_per_s=mp / seconds,
            cpu_seconds=statistics.median(cpu_timings[name]),
            times=timings[name],
            warmup_s=info[name]["warmup_s"],
            peak_mb_per_mp=info[name]["peak_bytes"] / 2**20 / mp,
            max_abs_diff=float((out - reference).abs().max()),
            ref_max_abs=float(reference.abs().max()),
            four_k_s=FOUR_K / 1e6 / (mp / seconds),
        )
    return rows


def print_table(results: dict) -> None:
    print(
        f"\ninput {results['size']} x {results['size']}, tile {results['tile']}, overlap {results['overlap']}, "
        f"{results['threads']} threads, {results['device']}; load average {results['load_before']:.1f} before, "
        f"{results['load_after']:.1f} after"
    )
    print(
        "| model | variant | MP/s | ratio to release | CPU-s ratio | s / image (median) | 4K estimate (s) | peak MB/MP "
        "| max abs diff vs release fp32 (relative to its max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model, rows in results["models"].items():
        base = next(iter(rows.values()))
        for name, row in rows.items():
            print(
                f"| {model} | {name} | {row['mp_per_s']:.4f} | {row['mp_per_s'] / base['mp_per_s']:.2f}x "
                f"| {base['cpu_seconds'] / row['cpu_seconds']:.2f}x | {row['seconds']:.1f} "
                f"| {row['four_k_s']:.0f} | {row['peak_mb_per_mp']:.0f} | {row['max_abs_diff']:.2e} "
                f"({row['max_abs_diff'] / row['ref_max_abs']:.1e} rel.) |"
            )
    p = results["bf16_psnr"]
    print(
        f"\nbf16 PSNR check (shipped nafnet-tiny fine-tuned demo net, astronaut + noise sigma 25, "
        f"noisy {p['noisy']:.2f} dB): fp32 {p['fp32']:.4f} dB, bf16 {p['bf16']:.4f} dB, "
        f"change {p['change_db']:+.4f} dB"
    )


if __name__ == "__main__":
    main()
