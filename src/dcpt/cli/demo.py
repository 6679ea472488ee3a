"""`dcpt demo`: pre-trained vs from-scratch NAFNet-tiny on the embedded photographs, in minutes on a CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from .checks import at_least
from .outputs import add_overwrite_option, guard_folder, named

EXAMPLES = """examples:
  dcpt demo                          score the shipped nets, then 300 live fine-tuning steps each (~3 min on 2 idle cores)
  dcpt demo --quick                  the same with 40 live steps (~1 min): a first look
  dcpt demo --steps 1000 --seed 1    a longer live part, another seed
  dcpt demo --pretrain               pre-train both checkpoints afresh first (about an hour more)
"""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end to end on the embedded images: score the shipped nets, fine-tune live, report",
        description="Score the shipped NAFNet-tiny nets fine-tuned from scratch, from DCPT and from MaskDCPT "
        "(several seeds each; the same table on any machine) on held-out photographs for five degradation "
        "types, fine-tune each initialisation briefly on this machine to show the pipeline, and write "
        "report.md, report.json, psnr.png and grid.png. Says up front how long it will take here.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument(
        "--steps", type=int, help="live fine-tuning steps per model (default: 300, 40 with --quick)"
    )
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
        "--quick", action="store_true", help="a short live part (about a minute in all on 2 idle cores)"
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
