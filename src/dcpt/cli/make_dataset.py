"""`dcpt make-dataset SRC OUT --types ...`: write a reproducible paired data set with a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DcptError
from .checks import at_least
from .outputs import add_overwrite_option, guard_folder, named

EPILOG = """\
examples:
  dcpt make-dataset samples out/noisy --types gaussian_noise --levels 25
  dcpt make-dataset photos/ out/mixed --types haze rain "gaussian_blur,jpeg" --per-image 4 --patch 256 --workers 8
  dcpt make-dataset scraped/ out/web --types jpeg --on-bad-sample skip --max-bad-fraction 0.05
  dcpt make-dataset photos/ out/shards --types haze rain --patch 128 --format shards --shard-size 1000 -j 8

Writes OUT/lq/*.png, OUT/gt/*.png and OUT/manifest.jsonl (one line per pair: files, type, level, seed,
source). The output is the same for any --workers; re-running after an interruption completes the set.
An unreadable source image stops the run naming it; --on-bad-sample skip leaves such images out.
--format shards writes OUT/shard-NNNNNN.tar (WebDataset layout: <key>.lq.png, <key>.gt.png,
<key>.json) and OUT/manifest.json (counts, sha256 per shard) instead; see docs/shards.md.
"""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "make-dataset",
        help="write a reproducible paired (lq, gt) data set with a manifest",
        description="Degrade clean images into a paired data set, reproducibly and resumably.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "src", metavar="SRC", help="folder of clean images, or 'samples' for the embedded images"
    )
    parser.add_argument("out", metavar="OUT", help="output folder (lq/, gt/, manifest.jsonl)")
    parser.add_argument(
        "--types",
        "-t",
        nargs="+",
        required=True,
        metavar="TYPE",
        help="degradation names or mixtures such as 'gaussian_blur,jpeg' (see dcpt degrade --list)",
    )
    parser.add_argument(
        "--levels",
        "-l",
        nargs="+",
        type=float,
        metavar="LEVEL",
        help="one level per type (a fraction in [0, 1] for mixtures); "
        "omitted: a random level per pair in the type's range",
    )
    parser.add_argument(
        "--per-image", type=int, default=1, metavar="N", help="pairs per image and type (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of all randomness (default 0)")
    parser.add_argument(
        "--workers",
        "-j",
        type=int,
        default=0,
        metavar="W",
        help="worker processes (0 or 1: sequential; default 0)",
    )
    parser.add_argument("--patch", type=int, metavar="P", help="random P x P crops instead of full images")
    parser.add_argument(
        "--on-bad-sample",
        choices=("error", "skip"),
        default="error",
        help="an unreadable source image stops the run (error, the default) or is left out and counted (skip)",
    )
    parser.add_argument(
        "--max-bad-fraction",
        type=float,
        default=0.01,
        metavar="F",
        help="with --on-bad-sample skip: the share of source images, in [0, 1], that may be left out "
        "before the run stops (default 0.01)",
    )
    parser.add_argument(
        "--format",
        choices=("folders", "shards"),
        default="folders",
        help="folders: lq/ and gt/ PNG files (default); shards: tar shards for streaming (docs/shards.md)",
    )
    parser.add_argument(
        "--shard-size",
        type=int,
        default=1000,
        metavar="N",
        help="with --format shards: pairs per shard (default 1000; one worker task writes one shard)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


OWN_ENTRIES = ("lq", "gt", "manifest.jsonl", "manifest.json", "make_dataset.json")
"""What make-dataset writes into OUT (and ``shard-*`` files); a folder holding anything else is
another kind of folder."""

MAX_WORKERS = 1024


def check_outputs(args) -> None:
    """OUT is a folder of make-dataset's own kind, and SRC is not OUT nor one of its sides (whose
    images a run would replace)."""
    out = Path(args.out)
    inputs = [Path(args.src)] if Path(args.src).exists() else []
    sides = [out / "lq", out / "gt"]
    for source in inputs:
        if any(source.resolve() == side.resolve() for side in sides):
            raise DcptError(
                f"SRC {str(source)!r} is where OUT keeps its pairs; make-dataset would overwrite those "
                "images; give another OUT"
            )
    guard_folder(
        out, "OUT", "dcpt make-dataset", named(*OWN_ENTRIES, prefixes=("shard-",)), args.overwrite, inputs
    )


def run(args) -> int:
    from ..data.bad_samples import BadSamplePolicy
    from ..data.make_dataset import make_paired_dataset

    at_least(args, "workers", 0, "0 or 1: sequential")
    if args.workers > MAX_WORKERS:
        raise DcptError(f"--workers: expected at most {MAX_WORKERS} processes, got {args.workers}")
    at_least(args, "per_image", 1)
    at_least(args, "patch", 1, "pixels")
    at_least(args, "seed", 0)
    at_least(args, "shard_size", 1, "pairs")
    bad_samples = BadSamplePolicy(
        args.on_bad_sample,
        args.max_bad_fraction,
        option="--on-bad-sample",
        fraction_option="--max-bad-fraction",
    )
    check_outputs(args)
    records = make_paired_dataset(
        args.src,
        args.out,
        types=args.types,
        levels=args.levels,
        per_image=args.per_image,
        seed=args.seed,
        workers=args.workers,
        patch=args.patch,
        progress=not args.quiet,
        bad_samples=bad_samples,
        format=args.format,
        shard_size=args.shard_size,
    )
    if not args.quiet:
        manifest = "manifest.json" if args.format == "shards" else "manifest.jsonl"
        print(f"{len(records)} pairs in {args.out} (manifest: {args.out}/{manifest})")
    return 0
