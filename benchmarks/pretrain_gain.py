"""Does DCPT / MaskDCPT pre-training pay? The pre-training study of issue 4.

For each arm (scratch, DCPT, MaskDCPT and ablations) and each seed: pre-train P steps (if the arm
pre-trains), fine-tune F steps with the restore objective on the demo's five degradation types on
the embedded samples, then measure PSNR (dB) per type on held-out test-split crops whose
degradations come from one fixed seed, the same for every arm and seed. Pre-trained nets also get
their classifier's accuracy on the same held-out crops.

Each finished (arm, seed) is appended as one JSON line to ``<out>/results.jsonl``; a re-run skips
what is there, and an interrupted pre-training or fine-tuning resumes from its last checkpoint in
the work folder, so a run stopped at any moment loses at most ``--ckpt-every`` steps.

    nohup .venv/bin/python benchmarks/pretrain_gain.py --arms scratch,dcpt,maskdcpt --seeds 0,1,2 \\
        --pretrain-steps 600 --finetune-steps 800 > /tmp/pretrain_gain.log 2>&1 &
    .venv/bin/python benchmarks/pretrain_gain.py --summarise
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
ASSETS = ROOT / "src" / "dcpt" / "assets" / "demo"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretrain_arms import ARMS  # noqa: E402

EVAL_SEED = 20250423
# The study's fine-tuning base, pinned so that its rows keep their meaning when the demo's config
# changes: every row without an lr override was fine-tuned at 3e-4 (the demo now uses 1e-3, the
# `*-lr-1e-3` arms). Rows are not keyed by the fine-tuning config, so change this only with new arms.
STUDY_FINE = ("objective.name=restore", "optim.lr=3.0e-4")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arms",
        default="scratch,dcpt,maskdcpt",
        help=f"comma-separated arms, run in this order; known: {', '.join(ARMS)}",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (>= 3 for a claim)")
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--finetune-steps", type=int, default=800)
    parser.add_argument("--patch-size", type=int, default=64, help="training crop side (pixels)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-patch", type=int, default=128, help="held-out crop side (pixels)")
    parser.add_argument(
        "--eval-count", type=int, default=200, help="held-out crops, spread evenly over the types"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--ckpt-every", type=int, default=200, help="training checkpoint interval (steps)")
    parser.add_argument(
        "--out",
        default=str(ROOT / "benchmarks" / "results" / "pretrain_gain"),
        help="folder of results.jsonl and summary.md (small files only)",
    )
    parser.add_argument(
        "--work", default="/tmp/dcpt-pretrain-gain", help="folder of run folders (checkpoints)"
    )
    parser.add_argument(
        "--summarise", action="store_true", help="only read results.jsonl and print the table"
    )
    args = parser.parse_args(argv)
    args.arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in args.arms if a not in ARMS and a != "input"]
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; expected some of {list(ARMS)}")
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    return args


def read_results(path: Path) -> List[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# config keys left out of a recipe tag: the seeds (a recipe is run at several) and what does not
# change the weights
VOLATILE = {
    "train": ("seed", "val_every", "log_every", "ckpt_every", "device"),
    "data": ("seed", "val", "val_length", "val_patch_size", "workers"),
}
# keys added to the schema after recipe tags were introduced, left out while at their default so the
# tags of existing runs stay valid
LATER_DEFAULTS = {"data": {"scale_range": [1.0, 1.0]}}


def recipe_tag(cfg) -> str:
    """A short hash of everything but the seeds in a resolved config that shapes the trained weights, so a changed
    committed config (or override) never reuses a stale pre-training run or mixes into old rows."""
    from dcpt.config import config_to_dict

    raw = config_to_dict(cfg)
    for section, keys in VOLATILE.items():
        for key in keys:
            raw.get(section, {}).pop(key, None)
    for section, defaults in LATER_DEFAULTS.items():
        for key, default in defaults.items():
            value = raw.get(section, {}).get(key)
            if value is not None and [float(v) for v in value] == default:
                raw[section].pop(key)
    raw.pop("out", None)
    return hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:10]


def pretrain_seed(arm: str, seed: int) -> int:
    """The pre-training seed of `arm` at fine-tuning seed `seed`: the same unless the arm pins one, which
    separates the pre-training seed's share of the spread from the fine-tuning seed's."""
    return ARMS.get(arm, {}).get("pretrain_seed", seed)


def pretrain_overrides(arm: str, seed: int, args) -> List[str]:
    return common_overrides(args.pretrain_steps, pretrain_seed(arm, seed), args) + list(
        ARMS.get(arm, {}).get("pre", ())
    )


def pretrain_config(arm: str, seed: int, args):
    """The pre-training config of `arm` at `seed`, or None when the arm does not pre-train."""
    spec = ARMS.get(arm, {})
    if not spec.get("pretrain"):
        return None
    return make_config(f"demo-pretrain-{spec['pretrain']}.yaml", pretrain_overrides(arm, seed, args))


def shipped_init(spec: dict):
    """(path, pre-training steps, recipe tag) of an `asset` arm's shipped checkpoint; the tag hashes
    the file, so a re-made checkpoint gets rows of its own."""
    path = ASSETS / spec["asset"]
    from dcpt.models.checkpoint import load_bundle

    steps = int(load_bundle(path).meta["step"])
    return path, steps, "shipped-" + hashlib.sha1(path.read_bytes()).hexdigest()[:8]


def result_key(arm: str, seed: int, args) -> tuple:
    spec = ARMS.get(arm, {})
    pre_cfg = pretrain_config(arm, seed, args)
    steps = args.pretrain_steps if spec.get("pretrain") or spec.get("extra_steps") else 0
    tag = recipe_tag(pre_cfg) if pre_cfg is not None else None
    if spec.get("asset"):
        _, steps, tag = shipped_init(spec)
    return (
        arm,
        seed,
        steps,
        args.finetune_steps,
        args.patch_size,
        args.batch_size,
        args.eval_patch,
        args.eval_count,
        tag,
    )


def _key_of(row: dict) -> tuple:
    return (
        row["arm"],
        row["seed"],
        row["pretrain_steps"],
        row["finetune_steps"],
        row["patch_size"],
        row["batch_size"],
        row["eval_patch"],
        row["eval_count"],
        row.get("recipe"),
    )


def make_config(name: str, overrides):
    from dcpt.config import config_from_dict, read_yaml

    return config_from_dict(read_yaml(CONFIGS / name), list(overrides))


def common_overrides(steps: int, seed: int, args) -> List[str]:
    return [
        f"train.steps={steps}",
        f"train.seed={seed}",
        f"data.seed={seed}",
        f"data.patch_size={args.patch_size}",
        f"data.batch_size={args.batch_size}",
        "train.val_every=0",
        f"train.ckpt_every={args.ckpt_every}",
        f"train.log_every={max(steps // 4, 1)}",
        "train.device=cpu",
    ]


def train(cfg, run_dir: Path, finetune: bool) -> Path:
    """Run (or resume, or reuse) one training run in `run_dir`; returns its exported EMA checkpoint."""
    import torch

    from dcpt.config import save_config
    from dcpt.engine.build import build_job
    from dcpt.engine.loop import fit

    final = run_dir / "final.safetensors"
    if final.is_file():
        return final
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    job = build_job(cfg, finetune=finetune)
    job.val_data = None
    resume = (run_dir / "last.pt").is_file()
    fit(job, cfg.data, cfg.optim, cfg.train, run_dir, torch.device("cpu"), resume=resume)
    return final


def heldout(cfg, args):
    """Test-split crops degraded from one fixed seed: identical for every arm and seed."""
    from dcpt.engine.build import build_dataset, class_names_of

    names = class_names_of(cfg.data.val)
    return build_dataset(
        cfg.data.val, cfg.data, names, args.eval_patch, args.eval_count, EVAL_SEED, train=False
    ), names


def evaluate(objective, modules, cfg, args) -> Dict[str, float]:
    import torch

    from dcpt.engine.validate import validate

    data, names = heldout(cfg, args)
    return validate(objective, modules, data, 20, torch.device("cpu"), names)


def per_type(metrics: Dict[str, float], metric: str) -> Dict[str, float]:
    out = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith(metric + "/")}
    out["average"] = sum(out.values()) / len(out)
    return out


class _Identity:
    """The degraded input as the 'restoration': the input PSNR of the held-out crops."""

    @staticmethod
    def evaluate(batch, nets):
        from dcpt.metrics import psnr

        return {"psnr": psnr(batch["lq"], batch["gt"])}


def identity_init(cfg, seed: int, work: Path) -> Path:
    """A seeded random net of the config's model whose last conv is zero, so net(x) == x at step 0."""
    import torch

    from dcpt.models import create_model
    from dcpt.models.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    net = create_model(cfg.model.name, **dict(cfg.model.overrides or {}))
    with torch.no_grad():
        net.ending.weight.zero_()
        net.ending.bias.zero_()
    return save_checkpoint(net, work / f"identity-init-s{seed}.safetensors")


def classifier_scores(checkpoint: Path, pre_cfg, args) -> dict:
    """Held-out accuracy of a pre-trained checkpoint's classifier, overall and per type."""
    from dcpt.models.checkpoint import load_bundle
    from dcpt.objectives import DcptObjective

    bundle = load_bundle(checkpoint)
    acc = evaluate(DcptObjective(), {"net": bundle.net, "classifier": bundle.classifier}, pre_cfg, args)
    return {
        "classifier_accuracy": acc["acc"],
        "classifier_accuracy_per_type": {k.split("/", 1)[1]: v for k, v in acc.items() if "/" in k},
    }


def run_one(arm: str, seed: int, args) -> dict:
    from dcpt.models.checkpoint import load_bundle
    from dcpt.objectives import RestoreObjective

    spec = ARMS.get(arm, {})
    work = Path(args.work)
    row = {
        "arm": arm,
        "seed": seed,
        "pretrain_steps": 0,
        "finetune_steps": args.finetune_steps,
        "patch_size": args.patch_size,
        "batch_size": args.batch_size,
        "eval_patch": args.eval_patch,
        "eval_count": args.eval_count,
        "baseline": spec.get("baseline", "scratch" if arm != "input" else "input"),
        "classifier_accuracy": None,
    }
    fine_steps = args.finetune_steps
    if spec.get("extra_steps"):
        row["pretrain_steps"] = args.pretrain_steps
        fine_steps += args.pretrain_steps
    fine_cfg = make_config(
        "demo-finetune.yaml",
        list(STUDY_FINE) + common_overrides(fine_steps, seed, args) + list(spec.get("fine", ())),
    )
    if arm == "input":
        row["psnr"] = per_type(evaluate(_Identity(), {}, fine_cfg, args), "psnr")
        return row
    init: Optional[Path] = None
    t0 = time.perf_counter()
    if spec["pretrain"]:
        pre_cfg = pretrain_config(arm, seed, args)
        row["recipe"] = recipe_tag(pre_cfg)
        pre_seed = pretrain_seed(arm, seed)
        init = train(pre_cfg, work / f"pre-{spec['pretrain']}-s{pre_seed}-{row['recipe']}", finetune=False)
        row.update(
            pretrain_steps=args.pretrain_steps,
            pretrain_seed=pre_seed,
            **classifier_scores(init, pre_cfg, args),
            pretrain_overrides=pretrain_overrides(arm, seed, args),
        )
    if spec.get("asset"):
        init, steps, row["recipe"] = shipped_init(spec)
        pre_cfg = make_config(f"demo-pretrain-{spec['objective']}.yaml", [])
        row.update(pretrain_steps=steps, **classifier_scores(init, pre_cfg, args))
    if spec.get("identity_init"):
        init = identity_init(fine_cfg, seed, work)
    t1 = time.perf_counter()
    if init is not None:
        fine_cfg = make_config(
            "demo-finetune.yaml",
            list(STUDY_FINE)
            + [f"init.checkpoint={init}", "init.classifier=false"]
            + common_overrides(fine_steps, seed, args)
            + list(spec.get("fine", ())),
        )
    recipe = (
        f"-{row['recipe']}" if "recipe" in row else ""
    )  # an interrupted run never resumes another recipe's
    fine_dir = (
        work
        / f"fine-{arm}-s{seed}-p{row['pretrain_steps']}-f{args.finetune_steps}-x{args.patch_size}{recipe}"
    )
    final = train(fine_cfg, fine_dir, finetune=True)
    net = load_bundle(final).net
    row["psnr"] = per_type(evaluate(RestoreObjective(), {"net": net}, fine_cfg, args), "psnr")
    row.update(
        pretrain_s=round(t1 - t0, 1),
        finetune_s=round(time.perf_counter() - t1, 1),
        finetune_overrides=list(spec.get("fine", ())),
        threads=args.threads,
    )
    shutil.rmtree(fine_dir, ignore_errors=True)
    return row


def _mean_std(values: List[float]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.2f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.2f} ± {std:.2f}"


def baseline_rows(
    groups: Dict[tuple, List[dict]], baseline: str, f: int, patch: int, ep: int, ec: int
) -> List[dict]:
    """The baseline's rows at `f` fine-tuning steps. scratch-longer at P + F' = `f` steps is the very same
    training as scratch at `f` (same config, same seed), so it stands in where scratch has no row."""
    rows = list(groups.get((baseline, 0, f, patch, ep, ec, None), []))
    if baseline == "scratch":
        seeds = {r["seed"] for r in rows}
        for (arm, p, f2, patch2, ep2, ec2, _), members in groups.items():
            if arm == "scratch-longer" and p + f2 == f and (patch2, ep2, ec2) == (patch, ep, ec):
                rows += [r for r in members if r["seed"] not in seeds]
    return rows


def summarise(rows: List[dict]) -> str:
    """Markdown: per (arm, P, F, patch) the mean ± sample std over seeds of PSNR per type and average,
    the gain over the baseline arm paired by seed, and the classifier accuracy (%)."""
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault(
            (
                row["arm"],
                row["pretrain_steps"],
                row["finetune_steps"],
                row["patch_size"],
                row["eval_patch"],
                row["eval_count"],
                row.get("recipe"),
            ),
            [],
        ).append(row)
    if not groups:
        return "no results yet"
    types = [t for t in next(iter(groups.values()))[0]["psnr"] if t != "average"]
    head = (
        ["arm", "recipe", "P", "F", "patch", "seeds"]
        + types
        + ["average", "gain vs baseline (paired)", "classifier acc %"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (arm, p, f, patch, ep, ec, recipe), members in groups.items():
        members = sorted(members, key=lambda r: r["seed"])
        cells = [arm, recipe or "-", str(p), str(f), str(patch), ",".join(str(r["seed"]) for r in members)]
        cells += [_mean_std([r["psnr"][t] for r in members]) for t in types + ["average"]]
        gains = []
        baseline = members[0].get("baseline", "scratch")
        for r in members:
            base = [b for b in baseline_rows(groups, baseline, f, patch, ep, ec) if b["seed"] == r["seed"]]
            if base and arm != baseline:
                gains.append(r["psnr"]["average"] - base[0]["psnr"]["average"])
        cells.append(f"{_mean_std(gains)} (n={len(gains)}, vs {baseline})" if gains else "-")
        accs = [100 * r["classifier_accuracy"] for r in members if r.get("classifier_accuracy") is not None]
        cells.append(_mean_std(accs))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    results = out / "results.jsonl"
    if args.summarise:
        print(summarise(read_results(results)))
        return 0
    import torch

    torch.set_num_threads(args.threads)
    out.mkdir(parents=True, exist_ok=True)
    done = {_key_of(r) for r in read_results(results)}
    todo = [(seed, arm) for seed in args.seeds for arm in args.arms]
    for seed, arm in todo:
        if result_key(arm, seed, args) in done:
            print(f"skip {arm} seed {seed}: already in {results}", flush=True)
            continue
        t0 = time.perf_counter()
        row = run_one(arm, seed, args)
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        done.add(_key_of(row))
        acc = row["classifier_accuracy"]
        print(
            f"{arm} seed {seed}: average {row['psnr']['average']:.2f} dB"
            f"{'' if acc is None else f', classifier {100 * acc:.1f}%'} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        (out / "summary.md").write_text(summarise(read_results(results)) + "\n")
    print(summarise(read_results(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
