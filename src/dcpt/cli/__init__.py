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


def _passive_openmp_threads() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    torch's CPU kernels wait for each other between operations; by default the waiting threads spin.
    On a machine whose cores are busy with other work, spinning threads steal the time of the ones
    doing the work: restoring the demo's crops with 2 threads on 2 busy cores took 7.7 s spinning and
    0.46 s passive (benchmarks/openmp_wait.py). OpenMP reads the setting once, when torch loads, so it
    is set here, before any command imports torch.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Optional[List[str]] = None) -> int:
    _passive_openmp_threads()
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
