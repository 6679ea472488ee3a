"""How much of the study's spread is the pre-training run itself? The pre-training study's rows regrouped
by (objective, pre-training seed), each over its fine-tuning seeds, with gains paired by fine-tuning seed
against scratch at the same setting.

Three kinds of rows carry one objective at one fine-tuning setting `<suffix>` (e.g. ``lr-1e-3``):
``<objective>-<suffix>`` (pre-training seed = fine-tuning seed), ``<objective>-pre<K>-<suffix>``
(pre-training seed K pinned) and ``<objective>-shipped-<suffix>`` (the shipped checkpoint, which
``scripts/make_demo_checkpoints.py`` makes with seed 0 of the same recipe). If the gain depends on the
pre-training seed more than fine-tuning seeds spread it, one shipped checkpoint says little about the method.

    .venv/bin/python benchmarks/pretrain_seed_table.py --suffix lr-1e-3 --finetune-steps 1200 --per-type
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

RESULTS = Path(__file__).resolve().parent / "results" / "pretrain_gain" / "results.jsonl"
SHIPPED_SEED = 0


def pretrain_seed_of(row: dict, objective: str, suffix: str) -> Optional[int]:
    """The pre-training seed behind `row` if it is an `objective` row at `suffix`, else None."""
    arm = row["arm"]
    if arm == f"{objective}-{suffix}":
        return row.get("pretrain_seed", row["seed"])
    if arm == f"{objective}-shipped-{suffix}":
        return SHIPPED_SEED
    match = re.fullmatch(rf"{re.escape(objective)}-pre(\d+)-{re.escape(suffix)}", arm)
    return int(match.group(1)) if match else None


def _mean_std(values: List[float]) -> str:
    spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):+.2f}{spread}" if values else "-"


def groups(rows: List[dict], objective: str, suffix: str) -> Dict[int, Dict[int, dict]]:
    """`objective`'s rows at `suffix`, keyed by pre-training seed, then by fine-tuning seed."""
    by_seed: Dict[int, Dict[int, dict]] = defaultdict(dict)
    for r in rows:
        pre = pretrain_seed_of(r, objective, suffix)
        if pre is not None:
            by_seed[pre][r["seed"]] = r
    return dict(sorted(by_seed.items()))


def paired_gains(members: Dict[int, dict], scratch: Dict[int, dict], metric: str = "average") -> List[float]:
    """PSNR gain of each fine-tuning seed over scratch with the same seed (seeds scratch lacks are skipped)."""
    return [members[s]["psnr"][metric] - scratch[s]["psnr"][metric] for s in sorted(members) if s in scratch]


def _scratch_rows(rows: List[dict], suffix: str) -> Dict[int, dict]:
    return {r["seed"]: r for r in rows if r["arm"] == f"scratch-{suffix}"}


def table(rows: List[dict], suffix: str, finetune_steps: int, objectives=("dcpt", "maskdcpt")) -> str:
    """Markdown: one line per (objective, pre-training seed), then one per objective over its seeds' means."""
    rows = [r for r in rows if r["finetune_steps"] == finetune_steps]
    scratch = _scratch_rows(rows, suffix)
    lines = [
        "| objective | pre-training seed | fine-tuning seeds | classifier acc % | average | gain vs scratch "
        "(paired) | ahead |",
        "|---|---|---|---|---|---|---|",
    ]
    for objective in objectives:
        seed_means = []
        for pre, members in groups(rows, objective, suffix).items():
            gains = paired_gains(members, scratch)
            accuracy = next(iter(members.values())).get("classifier_accuracy")
            averages = [m["psnr"]["average"] for m in members.values()]
            lines.append(
                f"| {objective} | {pre} | {','.join(map(str, sorted(members)))} | "
                f"{'-' if accuracy is None else f'{100 * accuracy:.1f}'} | "
                f"{statistics.mean(averages):.2f} | {_mean_std(gains)} | "
                f"{sum(g > 0 for g in gains)}/{len(gains)} |"
            )
            if gains:
                seed_means.append(statistics.mean(gains))
        if len(seed_means) > 1:
            lines.append(
                f"| {objective} | mean of {len(seed_means)} seeds | - | - | - | {_mean_std(seed_means)} | "
                f"{sum(g > 0 for g in seed_means)}/{len(seed_means)} |"
            )
    return "\n".join(lines)


def per_type_table(
    rows: List[dict], suffix: str, finetune_steps: int, objectives=("dcpt", "maskdcpt")
) -> str:
    """Markdown: each pre-training seed's mean paired gain per degradation type. Which types carry a
    checkpoint's gain, and which types a bad checkpoint loses?"""
    rows = [r for r in rows if r["finetune_steps"] == finetune_steps]
    scratch = _scratch_rows(rows, suffix)
    types = [t for t in next(iter(scratch.values()))["psnr"] if t != "average"] if scratch else []
    lines = [
        "| objective | pre-training seed | " + " | ".join(types) + " | average |",
        "|---|---|" + "---|" * (len(types) + 1),
    ]
    for objective in objectives:
        for pre, members in groups(rows, objective, suffix).items():
            cells = []
            for metric in types + ["average"]:
                complete = all(metric in m["psnr"] for m in members.values())
                gains = paired_gains(members, scratch, metric) if complete else []
                cells.append(f"{statistics.mean(gains):+.2f}" if gains else "-")
            lines.append(f"| {objective} | {pre} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--suffix", default="lr-1e-3", help="the fine-tuning setting the arms share")
    parser.add_argument("--finetune-steps", type=int, default=1200)
    parser.add_argument(
        "--per-type", action="store_true", help="also print each seed's gain per degradation type"
    )
    parser.add_argument(
        "--objectives",
        default="dcpt,maskdcpt",
        help="comma-separated arm stems, e.g. maskdcpt-release for maskdcpt-release-pre<K>-<suffix>",
    )
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    objectives = tuple(o for o in args.objectives.split(",") if o)
    print(table(rows, args.suffix, args.finetune_steps, objectives))
    if args.per_type:
        print()
        print(per_type_table(rows, args.suffix, args.finetune_steps, objectives))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
