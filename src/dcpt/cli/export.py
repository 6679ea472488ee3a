"""`dcpt export --onnx OUT.onnx --checkpoint CKPT`: a checkpoint as an ONNX file for onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path

from .outputs import check_writable, guard_file
from .restore import add_model_options

EXAMPLES = """examples:
  dcpt export --onnx nafnet.onnx --checkpoint run/final.safetensors
  dcpt export --onnx nafnet-5d.onnx --checkpoint NAFNet_5d.pth --arch nafnet-5d
  dcpt restore photo.png -o restored --engine onnx --ckpt nafnet.onnx --tile 512
"""

PARITY_TOLERANCE = 1e-4
"""Largest absolute difference from PyTorch (images in [0, 1]) an export may show on its check image."""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX (dynamic batch, height and width)",
        description="Write a checkpoint's restoration net as an ONNX file whose batch, height and width "
        "are dynamic (any image size; the net pads to its multiple inside the graph), then check that "
        "onnxruntime matches PyTorch on a random image. Needs the onnx extra: "
        'pip install "dcpt[onnx]". Run the file with `dcpt restore --engine onnx`.',
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--onnx", required=True, metavar="OUT", help="the .onnx file to write")
    add_model_options(parser, flag="--checkpoint", device=False)
    parser.add_argument(
        "--no-check", action="store_true", help="skip the onnxruntime vs PyTorch check after export"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT file")
    parser.set_defaults(run=run)


def check_output(args: argparse.Namespace) -> Path:
    """OUT ends in .onnx, is not a folder, not the checkpoint, not an existing file unless --overwrite."""
    from ..errors import DcptError

    target = Path(args.onnx)
    if target.suffix.lower() != ".onnx":
        raise DcptError(f"--onnx {args.onnx!r}: expected a file name ending in .onnx")
    guard_file(target, "--onnx", [Path(args.checkpoint)], overwrite=args.overwrite)
    check_writable(target.parent, "--onnx")
    return target


def run(args: argparse.Namespace) -> int:
    from ..errors import DcptError
    from ..infer.onnx_engine import require
    from ..infer.onnx_export import CHECK_SIZE, export_onnx, max_abs_error
    from ..infer.restore import load_model

    target = check_output(args)
    for module in ("onnx", "onnxscript") + (() if args.no_check else ("onnxruntime",)):
        require(module, "dcpt export")
    net = load_model(args.checkpoint, arch=args.arch, device="cpu")
    family = getattr(net, "arch_name", type(net).__name__)
    print(
        f"exporting {family} from {args.checkpoint} (tracing and translating take a minute or more)",
        flush=True,
    )
    export_onnx(net, target)
    print(f"exported {family} to {target} ({target.stat().st_size / 1e6:.1f} MB, dynamic B x 3 x H x W)")
    if args.no_check:
        return 0
    error = max_abs_error(net, target)
    height, width = CHECK_SIZE
    if error > PARITY_TOLERANCE:
        raise DcptError(
            f"{target}: onnxruntime differs from PyTorch by up to {error:.2e} on a {height} x {width} image "
            f"(tolerance {PARITY_TOLERANCE:g}); the export is kept for inspection"
        )
    print(f"checked: onnxruntime matches PyTorch to {error:.1e} (max abs) on a {height} x {width} image")
    return 0
