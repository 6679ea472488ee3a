"""``python -m experiments``: run an arm, score a classifier, print the tables, check the results file.

.venv/bin/python -m experiments arms                       # every arm, its seeds and its rows
.venv/bin/python -m experiments run maskdcpt-lr-1e-3       # its declared seeds; finished ones are skipped
.venv/bin/python -m experiments run dcpt-lr-1e-3 --pretrain-seeds 1 --seeds 0,1  # some of its pairs
.venv/bin/python -m experiments classify maskdcpt --seeds 1,2
.venv/bin/python -m experiments tables [--markdown] [ID ...]
.venv/bin/python -m experiments check
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from . import results as store
from .arms import ARMS, Seeds, get_arm, get_pretraining


def _ints(text: str) -> List[int]:
    return [int(s) for s in text.split(",") if s]


def chosen_seeds(arm_name: str, seeds: Optional[str], pretrain_seeds: Optional[str]) -> Seeds:
    """The arm's declared seed pairs, or: `seeds` alone gives each fine-tuning seed its own pre-training
    seed (scratch: none; shipped: the file's); with `pretrain_seeds`, every pair of the two lists."""
    arm = get_arm(arm_name)
    if seeds is None and pretrain_seeds is None:
        return arm.seeds
    fine = _ints(seeds) if seeds is not None else sorted({f for _, f in arm.seeds})
    pretraining = get_pretraining(arm.pretraining) if arm.pretraining else None
    if pretraining is None or pretraining.shipped:
        if pretrain_seeds is not None:
            raise ValueError(f"{arm.name} has no pre-training seed to choose")
        pre = pretraining.shipped_seed if pretraining else None
        return tuple((pre, f) for f in fine)
    if pretrain_seeds is None:
        return tuple((f, f) for f in fine)
    return tuple((p, f) for p in _ints(pretrain_seeds) for f in fine)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--results", type=Path, default=store.RESULTS, help="the results file (default: the committed one)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("arms", help="list the arms")
    run = sub.add_parser("run", help="run (or resume) an arm at its seeds")
    run.add_argument("arm", help="an arm name (`arms` lists them)")
    run.add_argument("--seeds", help="comma-separated fine-tuning seeds (default: the arm's declared pairs)")
    run.add_argument("--pretrain-seeds", help="comma-separated pre-training seeds, crossed with --seeds")
    run.add_argument(
        "--work", type=Path, default=Path("/tmp/dcpt-experiments"), help="folder of run folders (checkpoints)"
    )
    run.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    run.add_argument("--ckpt-every", type=int, default=200, help="training checkpoint interval (steps)")
    classify = sub.add_parser("classify", help="score a pre-training's classifier on held-out views")
    classify.add_argument("pretraining", help="a pre-training name")
    classify.add_argument("--seeds", default="0", help="comma-separated pre-training seeds")
    classify.add_argument("--crops", default="64,128,256", help="comma-separated crop sides ('' for none)")
    classify.add_argument("--crops-per-image", type=int, default=20, help="crops per photograph and type")
    classify.add_argument(
        "--whole", type=int, default=8, help="whole photographs per photograph and type (0: none)"
    )
    classify.add_argument(
        "--image-seed", type=int, default=1234, help="the seed of the crops and degradations"
    )
    classify.add_argument("--work", type=Path, default=Path("/tmp/dcpt-experiments"))
    classify.add_argument("--threads", type=int, default=2)
    tables = sub.add_parser("tables", help="print every table of docs/experiments.md from the results file")
    tables.add_argument("ids", nargs="*", help="only these tables")
    tables.add_argument(
        "--markdown", action="store_true", help="each table under its <!-- table: id --> line"
    )
    sub.add_parser("check", help="validate the results file against the schema and the arms")
    return parser.parse_args(argv)


def list_arms(results: store.Results) -> str:
    lines = []
    for arm in ARMS.values():
        done = {(r.pretrain_seed, r.finetune_seed) for r in results.restore(arm.name)}
        state = f"{len(done & set(arm.seeds))}/{len(arm.seeds)} rows"
        init = f"{arm.init} {arm.pretraining}" if arm.pretraining else arm.init
        extra = f"  [retired: {arm.retired}]" if arm.retired else ""
        lines.append(f"{arm.name:38} {init:34} F={arm.finetune_steps:<5} {state}{extra}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results = store.read(args.results)
        if args.command == "arms":
            print(list_arms(results))
        elif args.command == "tables":
            from .tables import render

            print(render(results, args.ids, markers=args.markdown), end="")
        elif args.command == "check":
            problems = store.problems(results)
            print(
                "\n".join(problems)
                or f"{args.results}: {len(results.rows)} rows, schema {store.SCHEMA_VERSION}, no problems"
            )
            return 1 if problems else 0
        elif args.command == "run":
            from .runner import run_arm

            run_arm(get_arm(args.arm), chosen_seeds(args.arm, args.seeds, args.pretrain_seeds), args)
        elif args.command == "classify":
            from .classifier import classify

            classify(get_pretraining(args.pretraining), _ints(args.seeds), args)
    except (KeyError, ValueError, store.SchemaError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
