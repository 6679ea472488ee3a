"""How much of a pre-training step waits for data, per loader setting: the ``data_wait`` that the loop
logs (`dcpt.engine.loop`: host time obtaining batches over step time), for two configurations.

* ``demo``: ``configs/demo-pretrain-dcpt.yaml`` as shipped (nafnet-tiny, five synthetic classes on
  the embedded sample photographs, batch 8 of 64 x 64).
* ``5d``: ``configs/nafnet-5d-pretrain.yaml``'s net layout and batch, reduced to run on two cores:
  width 16 instead of 64 (`--width`), 64 x 64 patches instead of 128 (`--patch`), and its data
  replaced by a stand-in, since the 5D folders (BSD400, WED, Rain100L, RESIDE, GoPro, LOL) are not
  here: its six classes (noise sigma 15 / 25 / 50, rain, haze, motion blur, low light) synthesised on
  the fly from the embedded photographs. Synthesis costs more per item than reading a paired crop,
  so this is the harder case for the loader.

Settings: ``data.workers`` 0 / 1 / 2, ``pin_memory`` (copies batches to page-locked memory; it only
matters for a CUDA device and is a no-op on a CPU-only machine), and degradation on the training
device (the data set made with ``degrade_on_device=True``, `dcpt.data.degrade_batch` as the job's
`prepare`; the loop counts that time as data wait). Each setting runs `--steps` optimiser steps
logged every `--log-every`; the first window (loader start-up, first touches of memory) is shown apart
from the mean of the others, which is what a long run sees between epochs. Settings run one after
the other: on a shared machine compare them with that in mind (the load average is printed).

    python benchmarks/data_wait.py [--configs demo 5d] [--steps 30] [--log-every 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from dcpt.config import config_from_dict, read_yaml
from dcpt.data import SyntheticDataset, degrade_batch
from dcpt.data.concat import Relabelled
from dcpt.engine import loop
from dcpt.engine.loop import fit
from dcpt.recipes import build_job

ROOT = Path(__file__).resolve().parent.parent
FIVE_D_CLASSES = [
    {"name": "gaussian_noise", "levels": [15, 15]},
    {"name": "gaussian_noise", "levels": [25, 25]},
    {"name": "gaussian_noise", "levels": [50, 50]},
    {"name": "rain", "levels": [0.3, 1]},
    {"name": "haze", "levels": [0.6, 3]},
    {"name": "motion_blur"},
    {"name": "low_light"},
]
SETTINGS: List[Tuple[str, Dict]] = [
    ("workers 0", {"workers": 0}),
    ("workers 1", {"workers": 1}),
    ("workers 2", {"workers": 2}),
    ("workers 1 + pin_memory", {"workers": 1, "pin_memory": True}),
    ("workers 0 + degrade on device", {"workers": 0, "on_device": True}),
    ("workers 1 + degrade on device", {"workers": 1, "on_device": True}),
]


def config(name: str, steps: int, log_every: int, width: int, patch: int):
    overrides = [f"train.steps={steps}", f"train.log_every={log_every}", "train.val_every=0"]
    overrides += ["train.ckpt_every=0", "train.ema=0", "train.device=cpu", "optim.warmup_steps=0"]
    if name == "demo":
        return config_from_dict(read_yaml(ROOT / "configs" / "demo-pretrain-dcpt.yaml"), overrides)
    raw = read_yaml(ROOT / "configs" / "nafnet-5d-pretrain.yaml")
    raw["data"].update(train=[{"clean": "samples", "classes": FIVE_D_CLASSES}], val=[], epoch_length=2000)
    overrides += [f"model.overrides.width={width}", f"data.patch_size={patch}"]
    return config_from_dict(raw, overrides)


def on_device_data(job) -> Tuple[SyntheticDataset, torch.Tensor]:
    """The job's one synthetic source, remade to leave degradation to `degrade_batch`, and the run's
    label of each of its classes (classes sharing a name, like the three noise levels, share one)."""
    data = job.train_data
    if not (isinstance(data, Relabelled) and isinstance(data.dataset, SyntheticDataset) and data.repeat == 1):
        raise SystemExit("degrade on device: expected one synthetic source")
    data.dataset.degrade_on_device = True
    return data.dataset, torch.tensor(data.labels)


def degrade_and_relabel(batch: Dict, dataset: SyntheticDataset, labels: torch.Tensor, device) -> Dict:
    out = degrade_batch(batch, dataset.classes, device)
    out["label"] = labels.to(device)[torch.as_tensor(batch["label"], device=device)]
    return out


def run(cfg, setting: Dict, device: torch.device) -> Tuple[List[float], float]:
    """``(data_wait per log window, seconds per step)`` of one short run."""
    cfg = replace(cfg, data=replace(cfg.data, workers=setting["workers"]))
    job = build_job(cfg)
    if setting.get("on_device"):
        dataset, labels = on_device_data(job)
        job.train_data = dataset
        job.prepare = partial(degrade_and_relabel, dataset=dataset, labels=labels, device=device)
    real = loop.BatchStream
    if "pin_memory" in setting:  # the loop pins for CUDA only; the data config has no switch for it
        loop.BatchStream = lambda *a, **k: real(*a, **{**k, "pin_memory": setting["pin_memory"]})  # type: ignore[misc]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            fit(job, cfg.data, cfg.optim, cfg.train, Path(tmp), device)
            seconds = (time.perf_counter() - t0) / cfg.train.steps
            lines = (Path(tmp) / "metrics.jsonl").read_text().splitlines()
    finally:
        loop.BatchStream = real  # type: ignore[misc]
    return [json.loads(line)["data_wait"] for line in lines], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["demo", "5d"], choices=["demo", "5d"])
    parser.add_argument(
        "--settings", nargs="+", type=int, help="indices into the settings list (default all)"
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--width", type=int, default=16, help="5d: net width (the config's is 64)")
    parser.add_argument("--patch", type=int, default=64, help="5d: patch size (the config's is 128)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    chosen = [SETTINGS[i] for i in args.settings] if args.settings else SETTINGS
    print(f"torch {torch.__version__}, {args.threads} threads, device {device}, {os.cpu_count()} CPUs")
    for name in args.configs:
        cfg = config(name, args.steps, args.log_every, args.width, args.patch)
        if device.type != "cpu":
            cfg = replace(cfg, train=replace(cfg.train, device=device.type))
        print(
            f"\n{name}: {cfg.model.name} (width {cfg.model.overrides.get('width', 'preset')}), batch "
            f"{cfg.data.batch_size} of {cfg.data.patch_size} x {cfg.data.patch_size}, {args.steps} steps"
        )
        print(f"{'setting':<32} {'first window':>12} {'later windows':>13} {'s/step':>7}  load")
        for label, setting in chosen:
            waits, seconds = run(cfg, setting, device)
            later = statistics.mean(waits[1:]) if len(waits) > 1 else float("nan")
            print(
                f"{label:<32} {100 * waits[0]:>11.1f}% {100 * later:>12.1f}% {seconds:>7.3f}  "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
