"""The `dcpt` command.

Each sub-command lives in its own module under `dcpt.cli` exposing `add_parsers(subparsers)`,
which adds its parser(s) and sets `run=<function(args) -> int>` as a default. Modules import torch and friends inside `run`, so `dcpt --help` stays fast.
User mistakes (`DcptError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

from .. import __version__
from ..errors import DcptError

# name -> module; the order is the order of `dcpt --help`.
COMMANDS = {
    "demo": "dcpt.cli.demo",
    "degrade": "dcpt.cli.degrade",
    "make-dataset": "dcpt.cli.make_dataset",
    "pretrain": "dcpt.cli.train",
    "finetune": "dcpt.cli.train",
    "evaluate": "dcpt.cli.evaluate",
    "restore": "dcpt.cli.restore",
    "export": "dcpt.cli.export",
    "classify": "dcpt.cli.classify",
    "app": "dcpt.cli.app",
    "analyse": "dcpt.cli.analyse",
    "info": "dcpt.cli.info",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcpt",
        description="Universal image restoration pre-training (DCPT, MaskDCPT), fine-tuning and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"dcpt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(module_name).add_parsers(sub)
    return parser


def _bounded_openmp_spinning() -> None:
    """Let idle OpenMP threads spin only briefly before they sleep, unless the user chose otherwise.

    torch's CPU kernels wait for each other between operations, and by default (libgomp) a waiting
    thread spins for about 300k iterations. On cores busy with other work the spinning threads steal
    the time of the working ones: on two busy cores a NAFNet-tiny training step took 1.0-9.1 s with the
    default, 0.4 s with ``OMP_WAIT_POLICY=PASSIVE`` and 0.4-0.8 s with ``GOMP_SPINCOUNT=10000``; on
    idle cores passive doubles the step (0.14 -> 0.26 s) while a 10k spin costs nothing measurable
    (0.14 s). `benchmarks/openmp_wait.py` prints these. OpenMP reads the setting once, when torch
    loads, so it is set here, before any command imports torch.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")


def main(argv: Optional[List[str]] = None) -> int:
    _bounded_openmp_spinning()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.run(args) or 0)
    except DcptError as exc:
        print(f"dcpt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dcpt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
