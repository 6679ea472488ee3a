"""`dcpt evaluate`: PSNR / SSIM of a checkpoint (or of the inputs) on the papers' benchmarks or any paired folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DcptError
from .checks import check_tiling
from .outputs import add_overwrite_option, guard_folder, image_file, named
from .restore import add_device_option, add_tiling_options

PROTOCOL_NAMES = ("toolkit", "dcpt", "maskdcpt")

EPILOG = """\
Protocols (docs/protocols.md tabulates every convention and the folder each set is read from):
  dcpt       the DCPT release's test pipeline (benchmark 5d)
  maskdcpt   the MaskDCPT release's test pipeline (benchmarks 5d, 12d, mixed, dn)
  toolkit    dcpt's own protocol (default; benchmarks 3d, 5d, 12d, and --pairs): per-file seeded,
             clipped, floored noise; tiling allowed. Not the papers' numbers.

5D folders under DATA_ROOT (every protocol):
  Rain100L/{rainy,norain}  CBSD68/ (clean; noise is added)  SOTS/outdoor/{hazy,gt}
  GoPro/test/{input,groundtruth}  LOL/eval15/{low,high}
The release protocols pair files of identical name (SOTS: hazy '0001_0.8_0.2.jpg' -> gt '0001.png');
toolkit also accepts the usual download names and --set NAME=DIR overrides.
Real photographs (no ground truth): --no-reference DIR --ckpt CKPT restores every image of DIR and
tabulates PIQE / NIQE of input and restoration per image and on average, with the relative change
(lower is better for both; results.md, results.csv and results.json under --out).
A missing or unreadable data set is a row of the table; the table and reports are still written, and the
exit code is then 2 (one line names the sets not scored), so scripts can trust exit code 0.
"""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="PSNR / SSIM tables (Markdown, CSV, JSON) with the DCPT / MaskDCPT release protocols or the toolkit's",
        description="Score a checkpoint, or the degraded inputs (--model identity), on a benchmark table.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument(
        "--ckpt", metavar="CKPT", help="checkpoint (dcpt .safetensors, or BasicSR .pth with --arch)"
    )
    model.add_argument(
        "--model",
        metavar="NAME",
        help="'identity': output = input, the 'Input' row of the papers (needs no checkpoint)",
    )
    model.add_argument("--identity", action="store_true", help="same as --model identity")
    parser.add_argument(
        "--arch", default=None, metavar="NAME", help="model preset for a BasicSR .pth, e.g. nafnet-5d"
    )
    add_device_option(parser)
    parser.add_argument(
        "--protocol",
        default="toolkit",
        metavar="NAME",
        help="dcpt, maskdcpt (the releases' test pipelines) or toolkit (default)",
    )
    parser.add_argument(
        "--benchmark",
        default=None,
        metavar="NAME",
        help="a table: 5d (dcpt); 5d, 12d, mixed, dn (maskdcpt); 3d, 5d, 12d (toolkit)",
    )
    parser.add_argument(
        "--data-root", metavar="DIR", default=None, help="folder holding the benchmark data sets"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="toolkit only: use DIR for the benchmark data set NAME (repeatable)",
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        default=[],
        metavar="NAME=DIR",
        help="toolkit only: paired folders of any standard layout, e.g. mine=/data/pairs",
    )
    parser.add_argument(
        "--no-reference",
        metavar="DIR",
        default=None,
        help="real photographs without ground truth: restore every image of DIR and tabulate PIQE / NIQE "
        "before and after, with the relative change (needs --ckpt)",
    )
    parser.add_argument(
        "--out", metavar="DIR", default=None, help="write results.csv and results.json (and results.md) here"
    )
    parser.add_argument("--save-images", metavar="DIR", default=None, help="write the restored images here")
    add_tiling_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


REPORT_FILES = ("results.csv", "results.json")


def _overlap(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def check_outputs(args: argparse.Namespace) -> None:
    """--out is not a data folder and holds only reports; --save-images neither is, holds nor lies
    inside a data folder (its per-set folders would mix with, or replace, the data)."""
    from ..infer.benchmarks import parse_assignments

    inputs = [Path(args.data_root)] if args.data_root else []
    for option, specs in (("--pairs", args.pairs), ("--set", args.overrides)):
        inputs += [Path(d) for d in parse_assignments(specs, option).values()]
    inputs = [p for p in inputs if p.exists()]
    if args.out:
        guard_folder(args.out, "--out", "dcpt evaluate", named(*REPORT_FILES), args.overwrite, inputs)
    if args.save_images:
        folder = guard_folder(
            args.save_images,
            "--save-images",
            "dcpt evaluate",
            lambda e: e.is_dir() or image_file(e),
            args.overwrite,
            inputs,
        )
        for source in inputs:
            if _overlap(folder, source):
                raise DcptError(
                    f"--save-images {str(folder)!r} overlaps the data folder {str(source)!r}; "
                    "restored images must not mix with the data: give a folder outside it"
                )


def _check_args(args: argparse.Namespace) -> None:
    check_tiling(args)
    if args.protocol not in PROTOCOL_NAMES:
        raise DcptError(f"unknown protocol {args.protocol!r}; expected one of {', '.join(PROTOCOL_NAMES)}")
    if args.model is not None and args.model != "identity":
        raise DcptError("--model accepts only 'identity'; give a network as --ckpt CKPT [--arch PRESET]")
    if args.benchmark and not args.data_root:
        raise DcptError(
            f"--benchmark {args.benchmark} needs --data-root DIR (the folder holding CBSD68/, Rain100L/...)"
        )
    if args.protocol == "toolkit":
        if not args.benchmark and not args.pairs:
            raise DcptError(
                "nothing to evaluate: give --benchmark NAME with --data-root, or --pairs NAME=DIR"
            )
        if args.overrides and not args.benchmark:
            raise DcptError("--set only applies to --benchmark data sets")
        return
    if not args.benchmark:
        raise DcptError(f"--protocol {args.protocol} needs --benchmark NAME and --data-root DIR")
    for flag, given in (
        ("--pairs", args.pairs),
        ("--set", args.overrides),
        ("--tile", args.tile),
        ("--tlc", args.tlc),
    ):
        if given:
            raise DcptError(
                f"{flag} is not part of the {args.protocol} release's test pipeline (whole images, "
                f"fixed folders); use it with --protocol toolkit"
            )


def run(args: argparse.Namespace) -> int:
    from ..infer.evaluate import markdown_table, require_scored, write_reports

    if args.no_reference is not None:
        from .evaluate_nr import run_no_reference

        return run_no_reference(args)
    _check_args(args)
    check_outputs(args)
    identity = args.identity or args.model == "identity"
    if args.protocol != "toolkit":
        from ..infer.release_tables import release_table

        release_table(args.protocol, args.benchmark.lower())  # unknown table: fail before loading a model
    net = None
    if not identity:
        from ..infer.restore import load_model

        net = load_model(args.ckpt, arch=args.arch, device=args.device, tlc=args.tlc)
    if args.protocol == "toolkit":
        results, conventions = (
            _run_toolkit(net, args),
            {"protocol": "toolkit", "summary": "RGB, 8-bit rounded, 0-255 scale, no border crop"},
        )
    else:
        from ..infer.protocols import describe, evaluate_release

        benchmark = args.benchmark.lower()
        results = evaluate_release(
            net,
            args.protocol,
            benchmark,
            args.data_root,
            save_dir=args.save_images,
            show_progress=not args.quiet,
        )
        conventions = describe(args.protocol, benchmark, net)
    print(markdown_table(results))
    if args.out:
        meta = {
            "ckpt": args.ckpt,
            "arch": args.arch,
            "identity": identity,
            "benchmark": args.benchmark,
            "data_root": args.data_root,
            "tile": args.tile,
            "overlap": args.overlap,
            "tlc": args.tlc,
            **conventions,
        }
        paths = write_reports(results, args.out, meta)
        print(f"wrote {paths['csv']} and {paths['json']}")
    require_scored(
        results, f"--protocol {args.protocol} --benchmark {args.benchmark}" if args.benchmark else "--pairs"
    )
    return 0


def _run_toolkit(net, args: argparse.Namespace):
    from ..infer.benchmarks import benchmark_sets, pair_sets, parse_assignments
    from ..infer.evaluate import evaluate_sets

    sets = []
    if args.benchmark:
        sets += benchmark_sets(args.benchmark, args.data_root, parse_assignments(args.overrides, "--set"))
    sets += pair_sets(args.pairs)
    return evaluate_sets(
        net,
        sets,
        tile=args.tile,
        overlap=args.overlap,
        batch=args.tile_batch,
        save_dir=args.save_images,
        show_progress=not args.quiet,
    )
