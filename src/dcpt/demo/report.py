"""The demo's report: report.json (the figures), report.md (the same, for people) and the console text.

Score tables here hold ``[mean, sd]`` per type and metric (`shipped.summarise`): over the shipped
fine-tuning seeds for a model, a single value with sd 0 for the input.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Dict, List

from ..fileio import atomic_write

ROWS = ("input", "scratch", "dcpt", "maskdcpt")
MODELS = ROWS[1:]
LABELS = {"input": "input (degraded)", "scratch": "scratch", "dcpt": "DCPT init", "maskdcpt": "MaskDCPT init"}
NOTICEABLE_DB = 0.1
GOAL_DB = 1.0
"""What the demo calls a restoration: at least this many dB above the degraded input."""


def build(
    tables: Dict[str, Dict],
    per_seed: Dict[str, List[Dict]],
    live: Dict[str, Dict],
    no_reference: Dict[str, Dict[str, float]],
    accuracy: Dict[str, float],
    options,
    cfg,
    inits: Dict,
    seconds: float,
    threads: int,
) -> Dict:
    """The report.json dict: ``models`` (mean and sd over the shipped seeds), ``seeds`` (each seed's
    table), ``input``, ``live`` (this machine's short fine-tunings), ``no_reference`` (PIQE / NIQE of
    whole held-out photographs), ``classifier_accuracy``, context."""
    return {
        "models": {name: tables[name] for name in MODELS},
        "seeds": per_seed,
        "input": tables["input"],
        "live": live,
        "no_reference": no_reference,
        "classifier_accuracy": dict(accuracy),
        "settings": {
            "model": cfg.model.name,
            "shipped_finetune_steps": cfg.train.steps,
            "live_steps": options.live_steps,
            "quick": options.quick,
            "seed": options.seed,
            "batch_size": cfg.data.batch_size,
            "patch_size": cfg.data.patch_size,
            "lr": cfg.optim.lr,
            "pixel_loss": cfg.objective.pixel_loss,
            "pretrained": {name: str(path) for name, path in inits.items()},
            "pretrained_afresh": options.pretrain,
            "test_images": "scikit-image samples, test split (camera, chelsea, coffee)",
            "crops_per_image": options.crops_per_image,
            "crop_size": options.crop_size,
        },
        "seconds": round(seconds, 1),
        "threads": threads,
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
    }


def _cell(table: Dict, column: str) -> str:
    (p, p_sd), (s, s_sd) = table["psnr"][column], table["ssim"][column]
    if p_sd == 0 and s_sd == 0:
        return f"{p:.2f} / {s:.3f}"
    return f"{p:.2f} ± {p_sd:.2f} / {s:.3f}"


def table_text(tables: Dict[str, Dict], types: List[str], rows=ROWS) -> str:
    """PSNR (dB, mean ± sd over seeds) / SSIM per type and average, a row per model, in Markdown."""
    columns = list(types) + ["average"]
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in rows:
        lines.append(f"| {LABELS[name]} | " + " | ".join(_cell(tables[name], c) for c in columns) + " |")
    return "\n".join(lines)


def improvement_text(tables: Dict[str, Dict], types: List[str]) -> str:
    """A line per type: by how much each model moved the degraded input, and whether that is a
    restoration (>= GOAL_DB dB and a higher SSIM)."""
    lines = []
    for t in types:
        base_p, base_s = tables["input"]["psnr"][t][0], tables["input"]["ssim"][t][0]
        parts = []
        for name in MODELS:
            gain = tables[name]["psnr"][t][0] - base_p
            ssim_up = tables[name]["ssim"][t][0] > base_s
            verdict = "restored" if gain >= GOAL_DB and ssim_up else "improved" if gain > 0 else "WORSE"
            parts.append(f"{LABELS[name]} {gain:+.2f} dB, SSIM {'up' if ssim_up else 'down'} ({verdict})")
        lines.append(f"- {t}: " + "; ".join(parts))
    return "\n".join(lines)


def no_reference_text(table: Dict[str, Dict[str, float]]) -> str:
    """PIQE and NIQE (lower is better) of the degraded and the restored photographs, with the change."""
    from ..infer.no_reference import change

    lines = ["| no reference | PIQE | NIQE |", "|---|---|---|"]
    for row in ROWS:
        cells = [f"{table[row][s]:.2f}" for s in ("piqe", "niqe")]
        if row != "input":
            cells = [
                f"{c} ({change(table['input'][s], table[row][s]):+.1f}%)"
                for c, s in zip(cells, ("piqe", "niqe"))
            ]
        lines.append(f"| {LABELS[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(tables: Dict[str, Dict]) -> str:
    """One honest sentence: did pre-training beat scratch on the average PSNR of the shipped nets?"""
    base, base_sd = tables["scratch"]["psnr"]["average"]
    parts = []
    for name in ("dcpt", "maskdcpt"):
        mean, sd = tables[name]["psnr"]["average"]
        gain = mean - base
        how = (
            "helped"
            if gain > NOTICEABLE_DB
            else "hurt"
            if gain < -NOTICEABLE_DB
            else "made no clear difference"
        )
        parts.append(f"{LABELS[name]} {how} ({gain:+.2f} dB average PSNR vs scratch; sd over seeds {sd:.2f})")
    return (
        "Shipped nets, at equal fine-tuning steps: "
        + "; ".join(parts)
        + f" (scratch sd {base_sd:.2f}). A gain within the seeds' spread is not a finding; "
        "docs/experiments.md measures the pre-training over several pre-training seeds."
    )


def markdown(result: Dict, tables: Dict[str, Dict], types: List[str]) -> str:
    s = result["settings"]
    seeds = len(next(iter(result["seeds"].values())))
    acc = result["classifier_accuracy"]
    return "\n".join(
        [
            "# dcpt demo",
            "",
            "![degraded | scratch | DCPT init | MaskDCPT init | clean](grid.png)",
            "",
            "![PSNR per degradation type, with the degraded input for reference](psnr.png)",
            "",
            f"## The shipped nets ({seeds} fine-tuning seeds each; the same figures on any machine)",
            "",
            f"`{s['model']}` fine-tuned for {s['shipped_finetune_steps']} steps ({s['pixel_loss']} loss, batch "
            f"{s['batch_size']}, {s['patch_size']}px patches, lr {s['lr']:g}) from scratch, from the DCPT and "
            "from the MaskDCPT checkpoint, by `scripts/make_demo_models.py`. Held-out: "
            f"{s['test_images']}, {s['crops_per_image']} fixed {s['crop_size']}px crops per image and type; "
            "PSNR (dB, RGB, 8-bit, mean ± sd over seeds) / SSIM.",
            "",
            table_text(tables, types),
            "",
            improvement_text(tables, types),
            "",
            verdict(tables),
            "",
            "No-reference scores (lower is better) of the whole held-out photographs, each degraded once by "
            "every type, and their restorations by the first shipped seed of each initialisation, as the "
            "MaskDCPT paper judges real photographs (change against the degraded input):",
            "",
            no_reference_text(result["no_reference"]),
            "",
            "Degradation classifier accuracy of the pre-trained checkpoints on the held-out crops: "
            + ", ".join(f"{LABELS[k]} {100 * v:.1f}%" for k, v in acc.items())
            + ".",
            "",
            f"## Live: {s['live_steps']} fine-tuning steps on this machine",
            "",
            "The same recipe run briefly here, to show the pipeline working; far from converged, so these "
            "figures are not the method's result and differ between machines.",
            "",
            table_text(result["live"], types, rows=MODELS),
            "",
            f"Wall time {result['seconds']:.0f} s with {result['threads']} threads ({result['machine']}).",
            "",
        ]
    )


def write(result: Dict, out: Path) -> None:
    tables = {**result["models"], "input": result["input"]}
    types = [k for k in result["input"]["psnr"] if k != "average"]
    atomic_write(out / "report.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / "report.md", markdown(result, tables, types))
