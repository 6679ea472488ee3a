"""The demo's report: report.json (the figures), report.md (the same, for people) and the console table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from ..fileio import atomic_write

ROWS = ("input", "scratch", "dcpt", "maskdcpt")
LABELS = {"input": "input (degraded)", "scratch": "scratch", "dcpt": "DCPT init", "maskdcpt": "MaskDCPT init"}
NOTICEABLE_DB = 0.1


def build(
    tables: Dict[str, Dict], accuracy: Dict[str, float], options, cfg, inits: Dict, seconds: float
) -> Dict:
    """The report.json dict: ``models`` and ``classifier_accuracy`` as documented, plus context keys."""
    return {
        "models": {name: tables[name] for name in ROWS if name != "input"},
        "classifier_accuracy": dict(accuracy),
        "input": tables["input"],
        "settings": {
            "model": cfg.model.name,
            "finetune_steps": cfg.train.steps if options.steps is None and not options.quick else None,
            "steps": options.steps,
            "quick": options.quick,
            "seed": options.seed,
            "batch_size": cfg.data.batch_size,
            "patch_size": cfg.data.patch_size,
            "lr": cfg.optim.lr,
            "pretrained": {name: str(path) for name, path in inits.items()},
            "pretrained_afresh": options.pretrain,
            "test_images": "scikit-image samples, test split (camera, chelsea, coffee)",
            "crops_per_image": options.crops_per_image,
            "crop_size": options.crop_size,
        },
        "seconds": round(seconds, 1),
    }


def table_text(tables: Dict[str, Dict], types: List[str]) -> str:
    """PSNR (dB) / SSIM per type and average, one row per model, as a Markdown table."""
    columns = list(types) + ["average"]
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in ROWS:
        cells = [f"{tables[name]['psnr'][c]:.2f} / {tables[name]['ssim'][c]:.3f}" for c in columns]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(tables: Dict[str, Dict], accuracy: Dict[str, float]) -> str:
    """One honest sentence: did pre-training beat scratch on the average PSNR here?"""
    base = tables["scratch"]["psnr"]["average"]
    parts = []
    for name in ("dcpt", "maskdcpt"):
        gain = tables[name]["psnr"]["average"] - base
        how = (
            "helped"
            if gain > NOTICEABLE_DB
            else "hurt"
            if gain < -NOTICEABLE_DB
            else "made no clear difference"
        )
        parts.append(f"{LABELS[name]} {how} ({gain:+.2f} dB average PSNR vs scratch)")
    text = "Here, at equal fine-tuning steps, " + "; ".join(parts) + "."
    best = max(tables[n]["psnr"]["average"] for n in ROWS if n != "input")
    if best < tables["input"]["psnr"]["average"]:
        text += " No net beats the degraded inputs on average yet (fine-tuning is far from converged)."
    return text + (
        " One seed and a short CPU run: read this as an indication, not a measurement of the method;"
        " `python -m experiments run ARM` measures it over several pre-training and fine-tuning seeds"
        " (figures in the project's `docs/experiments.md`)."
    )


def markdown(result: Dict, tables: Dict[str, Dict], types: List[str]) -> str:
    s = result["settings"]
    acc = result["classifier_accuracy"]
    steps = s["steps"] or s["finetune_steps"] or "quick"
    return "\n".join(
        [
            "# dcpt demo",
            "",
            f"Model `{s['model']}`; fine-tuned for {steps} steps (batch {s['batch_size']}, {s['patch_size']}px patches, "
            f"lr {s['lr']:g}, seed {s['seed']}) from scratch, from the DCPT checkpoint and from the MaskDCPT checkpoint "
            f"({'pre-trained afresh' if s['pretrained_afresh'] else 'shipped'}: "
            + ", ".join(f"`{p}`" for p in s["pretrained"].values())
            + ").",
            f"Evaluation: {s['test_images']}, {s['crops_per_image']} fixed {s['crop_size']}x{s['crop_size']} crops per image "
            "and type, fixed degradation seeds; PSNR (dB, RGB, 8-bit) / SSIM.",
            "",
            table_text(tables, types),
            "",
            "Degradation classifier accuracy on the held-out degraded crops: "
            + ", ".join(f"{LABELS[k]} {100 * v:.1f}%" for k, v in acc.items())
            + ".",
            "",
            verdict(tables, acc),
            "",
            "![PSNR per degradation type](psnr.png)",
            "",
            "![degraded | scratch | DCPT | MaskDCPT | clean](grid.png)",
            "",
            f"Run time: {result['seconds']:.0f} s.",
            "",
        ]
    )


def write(result: Dict, out: Path) -> None:
    tables = {**result["models"], "input": result["input"]}
    types = [k for k in result["input"]["psnr"] if k != "average"]
    atomic_write(out / "report.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / "report.md", markdown(result, tables, types))
