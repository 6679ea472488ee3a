"""`dcpt pretrain` and `dcpt finetune`: train from a YAML config (also under torchrun).

A run holds its folder's lock (`engine.rundir.RunLock`, rank 0 only under torchrun) from before the
"already holds a checkpoint" check to its exit, so two runs started into one folder cannot both pass
the check. ``--resume auto`` resumes when `last.pt` exists and starts fresh otherwise: the same
command line serves the first start and every restart, which is what ``torchrun --max-restarts``
needs to recover a lost worker unattended.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

EXAMPLES_PRETRAIN = """examples:
  dcpt pretrain configs/demo-pretrain-dcpt.yaml --out runs/demo-pt
  dcpt pretrain configs/demo-pretrain-dcpt.yaml --objective maskdcpt --set train.steps=200
  torchrun --nproc_per_node=4 -m dcpt pretrain configs/nafnet-5d-pretrain.yaml
  dcpt pretrain configs/demo-pretrain-dcpt.yaml --out runs/demo-pt --resume
  torchrun --nproc_per_node=4 --max-restarts=3 -m dcpt pretrain configs/nafnet-5d-pretrain.yaml --resume auto
"""

EXAMPLES_FINETUNE = """examples:
  dcpt finetune configs/demo-finetune.yaml --init runs/demo-pt/final.safetensors
  dcpt finetune configs/nafnet-5d-finetune.yaml --set optim.lr=1e-4 --set train.steps=50000
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML run config (see configs/)")
    parser.add_argument("--out", help="run folder (default: the config's `out`, else runs/<config name>)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        type=_resume_mode,
        metavar="auto",
        help="continue exactly from <out>/last.pt; `--resume auto`: continue if it exists, else start fresh",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.steps=100 (repeatable)",
    )


def _resume_mode(text: str) -> str:
    if text != "auto":
        raise argparse.ArgumentTypeError(f"expected nothing or 'auto', got {text!r}")
    return text


def add_parsers(subparsers) -> None:
    pre = subparsers.add_parser(
        "pretrain",
        help="DCPT / MaskDCPT pre-training from a YAML config",
        description="Pre-train a restoration net by degradation classification.",
        epilog=EXAMPLES_PRETRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(pre)
    pre.add_argument("--objective", choices=("dcpt", "maskdcpt"), help="override the config's objective")
    pre.set_defaults(run=run, mode="pretrain")
    fine = subparsers.add_parser(
        "finetune",
        help="all-in-one restoration fine-tuning from a YAML config",
        description="Fine-tune a (pre-trained) restoration net with the L1 restoration loss.",
        epilog=EXAMPLES_FINETUNE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(fine)
    fine.add_argument("--init", help="checkpoint to start from (e.g. a pre-training final.safetensors)")
    fine.set_defaults(run=run, mode="finetune")


def resolve(args):
    """The validated config and run folder for `args` (no side effects)."""
    from ..config import config_from_dict, read_yaml
    from ..errors import ConfigError

    raw = read_yaml(args.config)
    overrides = list(args.overrides)
    if args.mode == "pretrain" and args.objective:
        overrides.append(f"objective.name={args.objective}")
    if args.mode == "finetune":
        if "name" not in (raw.get("objective") or {}):
            overrides.insert(0, "objective.name=restore")
        if args.init:
            overrides.append(f"init.checkpoint={args.init}")
    cfg = config_from_dict(raw, overrides)
    if args.mode == "pretrain" and cfg.objective.name == "restore":
        raise ConfigError(
            "pretrain trains objective 'dcpt' or 'maskdcpt', the config says 'restore'; use `dcpt finetune`"
        )
    if args.mode == "finetune" and cfg.objective.name != "restore":
        raise ConfigError(
            f"finetune trains objective 'restore', the config says {cfg.objective.name!r}; use `dcpt pretrain`"
        )
    run_dir = Path(args.out or cfg.out or Path("runs") / Path(args.config).stem)
    return cfg, run_dir


def run(args) -> int:
    from ..engine import checkpointing
    from ..engine.rundir import RunLock, reopen
    from ..errors import CheckpointError

    cfg, run_dir = resolve(args)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # before the process group: torchrun's rank
    with RunLock(run_dir) if main_rank else contextlib.nullcontext():
        if main_rank:
            reopen(run_dir)
        last = run_dir / checkpointing.LAST
        resume = last.is_file() if args.resume == "auto" else bool(args.resume)
        if resume and not last.is_file():
            raise CheckpointError(f"--resume: no training checkpoint at {last}")
        if not resume and last.is_file():
            raise CheckpointError(
                f"{run_dir} already holds a training checkpoint; "
                "pass --resume to continue it or --out for a new run"
            )
        return _train(args, cfg, run_dir, resume)


def _train(args, cfg, run_dir: Path, resume: bool) -> int:
    from ..config import save_config
    from ..engine.distributed import barrier, init_distributed, shutdown
    from ..engine.loop import fit
    from ..recipes import build_job

    info, device = init_distributed(cfg.train.device)
    try:
        job = build_job(cfg, finetune=args.mode == "finetune")
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, run_dir / "config.yaml")
        barrier(info)
        result = fit(job, cfg.data, cfg.optim, cfg.train, run_dir, device, info, resume=resume)
        if info.is_main:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in {**result.last_logs, **result.val_metrics}.items())
            print(
                f"{args.mode}: {result.step} steps on {device}"
                f"{' x' + str(info.world_size) if info.enabled else ''}; {shown}"
            )
            print(f"saved {result.exported}")
            sys.stdout.flush()
    finally:
        shutdown(info)
    return 0
