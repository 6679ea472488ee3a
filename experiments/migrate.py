"""One-off: the study's rows as `benchmarks/` kept them, converted into `results/results.jsonl`.

Reads the old files from git at `FROM` (they are deleted after it), so it can be re-run to check that
the committed results file holds every old figure:

    .venv/bin/python -m experiments.migrate --check

Old rows were filed under arm names whose meaning depended on the pre-training and fine-tuning steps
they ran with (``maskdcpt`` at P = 2000 and at P = 4000, ``scratch-longer`` at F = P + F), and pinned
pre-training seeds lived in the name (``dcpt-pre2-lr-1e-3``). Each is mapped to a declared arm and two
explicit seeds; what the registry now declares (overrides, baseline, protocol) is checked against what
each row recorded, so the mapping cannot silently change a row's meaning.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .arms import PRETRAININGS, get_arm
from .results import (
    PROTOCOL,
    RESULTS,
    ClassifierRow,
    DemoRow,
    RestoreRow,
    Results,
    header,
    read,
    row_to_dict,
    write,
)

FROM = "e1bd97e372f2609e3b317df47e3c93016a274ce3"
ROOT = Path(__file__).resolve().parent.parent
RESTORE_FILES = (
    # (path at FROM, prefix of its arms' new names)
    ("benchmarks/results/pretrain_gain/results-v1-sparse-decoder.jsonl", "v1-"),
    ("benchmarks/results/pretrain_gain/results.jsonl", ""),
    ("benchmarks/results/pretrain_gain_release/results.jsonl", ""),
)
CLASSIFIER_FILES = (
    "benchmarks/results/classifier_accuracy/dcpt-p2000-vs-p4000.json",
    "benchmarks/results/classifier_accuracy/maskdcpt-p2000-vs-p4000.json",
    "benchmarks/results/classifier_accuracy/maskdcpt-p4000-seed1.json",
    "benchmarks/results/classifier_accuracy/p4000-dcpt-s1-maskdcpt-s2.json",
)
# the pre-training overrides every old run set (steps, seeds, logging), not the pre-training's own
COMMON = ("train.", "data.seed=", "data.patch_size=", "data.batch_size=")
# old name (and its P, F) -> arm; names not listed keep their name
BY_STEPS = {
    ("scratch-longer", 2000, 1200): "scratch-f3200",
    ("dcpt", 2000, 1200): "dcpt-p2000",
    ("maskdcpt", 2000, 1200): "maskdcpt-p2000",
    ("maskdcpt", 4000, 3200): "maskdcpt-f3200",
    ("scratch-lr-1e-3", 0, 2400): "scratch-lr-1e-3-f2400",
    ("dcpt-shipped-lr-1e-3", 4000, 2400): "dcpt-shipped-lr-1e-3-f2400",
    ("maskdcpt-shipped-lr-1e-3", 4000, 2400): "maskdcpt-shipped-lr-1e-3-f2400",
}
BY_NAME = {
    **{f"{o}-pre{k}-lr-1e-3": f"{o}-lr-1e-3" for o in ("dcpt", "maskdcpt") for k in range(1, 5)},
    "maskdcpt-rec-only-pre1-lr-1e-3": "maskdcpt-rec-only-lr-1e-3",
    **{f"maskdcpt-release-pre{k}-lr-1e-3": "maskdcpt-release-lr-1e-3" for k in range(3)},
}
# the checkpoints the old classifier files were keyed by -> (pre-training, seed)
CHECKPOINTS = {
    "/tmp/dcpt-pretrain-gain/pre-dcpt-s0-5f6211a2ae/final.safetensors": ("dcpt-p2000", 0),
    "/tmp/dcpt-pretrain-gain/pre-maskdcpt-s0-26f75bb898/final.safetensors": ("maskdcpt-p2000", 0),
    "/tmp/dcpt-pretrain-gain/pre-dcpt-s1-acd0ce6d73/final.safetensors": ("dcpt", 1),
    "/tmp/dcpt-pretrain-gain/pre-maskdcpt-s1-32d9cc6193/final.safetensors": ("maskdcpt", 1),
    "/tmp/dcpt-pretrain-gain/pre-maskdcpt-s2-32d9cc6193/final.safetensors": ("maskdcpt", 2),
    # the float32 runs that `scripts/make_demo_checkpoints.py` stored, as fp16, as the shipped files
    "runs/ship4k/demo-pretrain-dcpt/final.safetensors": ("dcpt-shipped", 0),
    "runs/ship4k/demo-pretrain-maskdcpt/final.safetensors": ("maskdcpt-shipped", 0),
}
# The demo's one quiet-machine timing: its report was not kept, so its figures are those the session
# wrote into docs/experiments.md at FROM ("Demo timing on a quiet machine").
DEMO = DemoRow(
    name="make-demo",
    wall_s=453.0,
    threads=2,
    average_psnr={"scratch": 20.30, "dcpt": 20.21, "maskdcpt": 20.56},
    classifier_accuracy={"dcpt": 56 / 60, "maskdcpt": 56 / 60},
    note="shipped P = 4000 checkpoints, lr 1e-3, F = 1200, fine-tuning seed 0, 12 crops per type",
    source=f"transcribed from docs/experiments.md @ {FROM[:7]}; the demo's report.json was not kept",
)


def git_show(path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{FROM}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def recorded_in(path: str) -> Dict[int, str]:
    """Line number -> the commit that added the line (git blame at FROM)."""
    out = subprocess.run(
        ["git", "blame", "--porcelain", FROM, "--", path],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    commits = {}
    for line in out.splitlines():
        parts = line.split(" ")
        if len(parts) >= 3 and len(parts[0]) == 40 and parts[1].isdigit():
            commits[int(parts[2])] = parts[0][:7]
    return commits


def new_name(old: dict, prefix: str) -> str:
    name = BY_STEPS.get((old["arm"], old["pretrain_steps"], old["finetune_steps"]), old["arm"])
    return prefix + BY_NAME.get(name, name)


def old_baseline(arm) -> str:
    """The baseline an old row named: scratch at F = 1200 stood in for scratch at other F, and the
    names had no study prefix."""
    if arm.init == "input":
        return "input"
    name = (arm.baseline or arm.name).replace("v1-", "", 1)
    for suffix in ("-f3200", "-f2400"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def restore_row(old: dict, prefix: str, source: str) -> RestoreRow:
    arm = get_arm(new_name(old, prefix))
    pretraining = PRETRAININGS[arm.pretraining] if arm.pretraining else None
    pre_seed: Optional[int] = None
    if pretraining is not None:
        pre_seed = pretraining.shipped_seed if pretraining.shipped else old.get("pretrain_seed", old["seed"])
    pre_steps = pretraining.steps if pretraining else 0
    # what the old row recorded must be what the arm declares
    for key, value in PROTOCOL.items():
        assert old.get(key, value) == value, (source, key)
    if arm.init == "input":
        assert old["pretrain_steps"] == 0
    elif arm.name == "scratch-f3200":
        assert old["pretrain_steps"] + old["finetune_steps"] == arm.finetune_steps, source
    else:
        assert (old["pretrain_steps"], old["finetune_steps"]) == (pre_steps, arm.finetune_steps), source
    assert tuple(old.get("finetune_overrides", arm.finetune_overrides)) == arm.finetune_overrides, source
    assert old["baseline"] == old_baseline(arm), source
    if "pretrain_overrides" in old:
        own = tuple(o for o in old["pretrain_overrides"] if not o.startswith(COMMON))
        assert own == pretraining.overrides and f"train.seed={pre_seed}" in old["pretrain_overrides"], source
    return RestoreRow(
        arm=arm.name,
        pretrain_seed=pre_seed,
        finetune_seed=old["seed"],
        pretrain_steps=pre_steps,
        finetune_steps=arm.finetune_steps,
        psnr=old["psnr"],
        classifier_accuracy=old["classifier_accuracy"],
        classifier_accuracy_per_type=old.get("classifier_accuracy_per_type"),
        pretrain_s=old.get("pretrain_s"),
        finetune_s=old.get("finetune_s"),
        threads=old.get("threads"),
        recipe=old.get("recipe"),
        source=source,
    )


def classifier_rows(path: str) -> List[ClassifierRow]:
    data = json.loads(git_show(path))
    rows = []
    for ckpt, views in data["results"].items():
        pretraining, seed = CHECKPOINTS[ckpt]
        for view, r in views.items():
            rows.append(
                ClassifierRow(
                    pretraining=pretraining,
                    pretrain_seed=seed,
                    view=view,
                    image_seed=data["seed"],
                    accuracy=r["accuracy"],
                    count=r["count"],
                    per_type=r["per_type"],
                    confusion=r["confusion"],
                    classes=data["classes"],
                    # before `predicted` was written, columns were the scored classes in their order
                    # plus one for any class of the checkpoint they do not include (always wrong)
                    predicted=r.get("predicted", data["classes"] + ["(other)"]),
                    source=f"{path} @ {FROM[:7]}: {ckpt}",
                )
            )
    return rows


def migrate() -> Tuple[Results, List[str]]:
    """The converted rows, and a line per old file saying what became of its rows."""
    rows: List = []
    report = []
    seen: Dict[Tuple, RestoreRow] = {}
    for path, prefix in RESTORE_FILES:
        blame = recorded_in(path)
        lines = git_show(path).splitlines()
        kept = copies = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            source = f"{path}:{number} @ {FROM[:7]} (recorded in {blame[number]})"
            row = restore_row(json.loads(line), prefix, source)
            if row.key in seen:
                # the release study copied scratch-lr-1e-3 seeds 0-2 from the main study's file
                assert seen[row.key].psnr == row.psnr, source
                copies += 1
                continue
            seen[row.key] = row
            rows.append(row)
            kept += 1
        report.append(f"{path}: {kept} rows" + (f", {copies} identical copies dropped" if copies else ""))
    for path in CLASSIFIER_FILES:
        new = classifier_rows(path)
        rows += new
        report.append(f"{path}: {len(new)} classifier rows")
    rows.append(DEMO)
    report.append("docs/experiments.md: 1 demo row (transcribed)")
    return Results(rows, header()), report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--check", action="store_true", help="only compare the migration with the rows in --out"
    )
    args = parser.parse_args(argv)
    results, report = migrate()
    print("\n".join(report))
    if args.check:
        committed = {json.dumps(row_to_dict(r), sort_keys=True) for r in read(args.out).rows}
        missing = [r for r in results.rows if json.dumps(row_to_dict(r), sort_keys=True) not in committed]
        print(f"{len(results.rows) - len(missing)} of {len(results.rows)} migrated rows are in {args.out}")
        return 1 if missing else 0
    write(results, args.out)
    print(f"wrote {len(results.rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
