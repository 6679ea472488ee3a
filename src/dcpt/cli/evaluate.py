"""`dcpt evaluate`: PSNR / SSIM of a checkpoint on the papers' benchmarks or on any paired folders."""

from __future__ import annotations

import argparse

from .restore import add_tiling_options

EPILOG = """\
Folders expected under DATA_ROOT (override any with --set NAME=DIR, NAME being a row name or the
top folder, e.g. --set CBSD68=/data/bsd68):
  CBSD68/                         clean images; noise (sigma 15/25/50) is added with a fixed seed
  Rain100L/{rainy,norain}         SOTS/outdoor/{hazy,gt}
  GoPro/test/{input,groundtruth}  LOL/eval15/{low,high}
  12d also: SIDD/val/{input,groundtruth}  DPDD/test/{inputC,target}  Snow100K/test/Snow100K-S/{synthetic,gt}
            Moire/testset/{moire_RGB,gt_RGB}  RainDrop/test_a/{data,gt}
            Mosaic_Urban100/{lq,gt}  GaussianBlur_Urban100/{lq,gt}  (pre-generated pairs)
A missing data set is reported as a row of the table, not an error.
"""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="PSNR / SSIM tables (Markdown, CSV, JSON) on the 3D / 5D / 12D benchmarks or paired folders",
        description="Score a checkpoint with the official protocol (RGB, 0-255, no border crop).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--ckpt", metavar="CKPT", help="checkpoint (dcpt .safetensors, or BasicSR .pth with --arch)")
    model.add_argument("--identity", action="store_true",
                       help="score the degraded inputs themselves (a baseline; needs no checkpoint)")
    parser.add_argument("--arch", default=None, metavar="NAME", help="model name for a BasicSR .pth, e.g. nafnet-5d")
    parser.add_argument("--device", default="auto", metavar="DEVICE", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--benchmark", choices=("3d", "5d", "12d"), default=None, help="a table of the papers")
    parser.add_argument("--data-root", metavar="DIR", default=None, help="folder holding the benchmark data sets")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=DIR",
                        help="use DIR for the benchmark data set NAME (repeatable)")
    parser.add_argument("--pairs", nargs="+", default=[], metavar="NAME=DIR",
                        help="paired folders of any standard layout, e.g. mine=/data/pairs (with lq/ and gt/)")
    parser.add_argument("--out", metavar="DIR", default=None, help="write results.csv and results.json here")
    parser.add_argument("--save-images", metavar="DIR", default=None, help="write the restored images here")
    add_tiling_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import DcptError
    from ..infer.benchmarks import benchmark_sets, pair_sets, parse_assignments
    from ..infer.evaluate import evaluate_sets, markdown_table, write_reports

    if not args.benchmark and not args.pairs:
        raise DcptError("nothing to evaluate: give --benchmark 3d|5d|12d with --data-root, or --pairs NAME=DIR")
    if args.benchmark and not args.data_root:
        raise DcptError(f"--benchmark {args.benchmark} needs --data-root DIR (the folder holding CBSD68/, Rain100L/...)")
    if args.overrides and not args.benchmark:
        raise DcptError("--set only applies to --benchmark data sets")
    sets = []
    if args.benchmark:
        sets += benchmark_sets(args.benchmark, args.data_root, parse_assignments(args.overrides, "--set"))
    sets += pair_sets(args.pairs)
    net = None
    if not args.identity:
        from ..infer.restore import load_model

        net = load_model(args.ckpt, arch=args.arch, device=args.device, tlc=args.tlc)
    results = evaluate_sets(net, sets, tile=args.tile, overlap=args.overlap, batch=args.tile_batch,
                            save_dir=args.save_images, show_progress=not args.quiet)
    print(markdown_table(results))
    if args.out:
        meta = {"ckpt": args.ckpt, "arch": args.arch, "identity": args.identity, "benchmark": args.benchmark,
                "tile": args.tile, "overlap": args.overlap, "tlc": args.tlc,
                "protocol": "RGB, 8-bit rounded, 0-255 scale, no border crop"}
        paths = write_reports(results, args.out, meta)
        print(f"wrote {paths['csv']} and {paths['json']}")
    return 0
