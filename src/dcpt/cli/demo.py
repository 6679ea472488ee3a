"""`dcpt demo`: pre-trained vs from-scratch NAFNet-tiny on the embedded photographs, in minutes on a CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from .checks import at_least
from .outputs import add_overwrite_option, guard_folder, named

EXAMPLES = """examples:
  dcpt demo                          shipped DCPT / MaskDCPT checkpoints, ~10 min on 2 CPU cores
  dcpt demo --out runs/demo2 --seed 1
  dcpt demo --pretrain               pre-train both checkpoints afresh first (longer)
  dcpt demo --quick                  a few steps of everything (a smoke test, meaningless figures)
"""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end to end on the embedded images: fine-tune, evaluate, report",
        description="Fine-tune NAFNet-tiny from scratch, from a DCPT and from a MaskDCPT checkpoint on the "
        "embedded photographs; score them on held-out images for five degradation types and write "
        "report.md, report.json, psnr.png and grid.png.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--steps", type=int, help="fine-tuning steps per model (default: the demo config's)")
    parser.add_argument(
        "--pretrain",
        action="store_true",
        help="make the DCPT / MaskDCPT checkpoints afresh into --out instead of using the shipped ones",
    )
    parser.add_argument(
        "--pretrain-steps", type=int, help="pre-training steps with --pretrain (default: the configs')"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of training data and initial weights (default: 0)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny step counts and one crop per image (smoke test)"
    )
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


DEMO_ENTRIES = ("report.json", "report.md", "psnr.png", "grid.png")
DEMO_PREFIXES = ("finetune-", "pretrain-")
"""What `dcpt demo` writes into --out: a folder holding anything else is not an earlier demo's."""


def run(args) -> int:
    from ..demo import DemoOptions, run_demo

    at_least(args, "seed", 0)
    guard_folder(args.out, "--out", "dcpt demo", named(*DEMO_ENTRIES, prefixes=DEMO_PREFIXES), args.overwrite)
    run_demo(
        DemoOptions(
            out=Path(args.out),
            steps=args.steps,
            pretrain=args.pretrain,
            pretrain_steps=args.pretrain_steps,
            seed=args.seed,
            quick=args.quick,
        )
    )
    return 0
