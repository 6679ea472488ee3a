"""`dcpt restore IN... -o OUT --ckpt CKPT`: restore image files or folders of any size."""

from __future__ import annotations

import argparse
from typing import Optional

from .checks import check_tiling
from .outputs import add_overwrite_option, guard_folder, image_file, refuse_overwriting_inputs


def _tile_batch(text: str) -> Optional[int]:
    """``auto`` -> None (`dcpt.infer.restore.auto_tile_batch` chooses), else an integer that
    `check_tiling` checks by name."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 1, got {text!r}") from None


def add_tiling_options(parser: argparse.ArgumentParser) -> None:
    """--tile / --overlap / --tile-batch / --tlc, shared with `dcpt evaluate`."""
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        metavar="N",
        help="restore in N x N tiles to bound memory (default: whole image); e.g. 512",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        default=32,
        metavar="M",
        help="overlap between tiles in pixels, blended smoothly (default: 32)",
    )
    parser.add_argument(
        "--tile-batch",
        type=_tile_batch,
        default=1,
        metavar="K",
        help="tiles per forward pass (default: 1), or 'auto': up to 4, fewer when memory is short",
    )
    parser.add_argument(
        "--tlc",
        action="store_true",
        help="NAFNet only: replace global channel pooling by local pooling over the training "
        "size (TLC), so large or tiled images see training-sized statistics",
    )


def add_speed_options(parser: argparse.ArgumentParser) -> None:
    """--no-channels-last / --bf16 / --compile: how the torch engine runs the net (`dcpt.infer.speed`)."""
    parser.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="keep NCHW tensors instead of channels-last (the default; same output to fp32 round-off)",
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="compute in bfloat16 (autocast): faster on AMX CPUs and GPUs, output differs by rounding",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the net: each new tile shape compiles first (minutes on a small CPU)",
    )


def speed_options(args: argparse.Namespace):
    """The `InferenceOptions` that `add_speed_options` parsed."""
    from ..infer.speed import InferenceOptions

    return InferenceOptions(channels_last=args.channels_last, bf16=args.bf16, compile=args.compile)


def add_model_options(parser: argparse.ArgumentParser, flag: str = "--ckpt", device: bool = True) -> None:
    """`flag` (the checkpoint: ``--ckpt``, or ``--checkpoint`` for export) / --arch / --device."""
    parser.add_argument(
        flag,
        required=True,
        metavar="CKPT",
        help="checkpoint: a dcpt .safetensors file, or a BasicSR .pth with --arch",
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME",
        help="model name for checkpoints without one, e.g. nafnet-5d for a BasicSR .pth",
    )
    if device:
        add_device_option(parser)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """--device, for every command that runs a net (read by `dcpt.device.resolve_device`)."""
    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help="cpu, cuda, cuda:N or auto (default: auto = CUDA when present)",
    )


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="restore images of any size with a checkpoint",
        description="Restore image files (or every image in the given folders) and write them to OUT "
        "under the same base names. 16-bit inputs give 16-bit outputs.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder (created)")
    add_model_options(parser)
    parser.add_argument(
        "--engine",
        choices=("torch", "onnx"),
        default="torch",
        help="torch runs a checkpoint; onnx runs a file from `dcpt export --onnx` with onnxruntime "
        "(default: torch)",
    )
    add_tiling_options(parser)
    add_speed_options(parser)
    parser.add_argument(
        "--bit-depth",
        type=int,
        choices=(8, 16),
        default=None,
        help="output bits per channel (default: that of each input)",
    )
    parser.add_argument("--ext", choices=("png", "tif"), default="png", help="output format (default: png)")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="print each image's PIQE and NIQE (no reference; lower is better) before and after",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


def check_outputs(args: argparse.Namespace) -> None:
    """Before any model is loaded: OUT is a folder that is no input, holds images only (or
    --overwrite), and no restored file would replace an input."""
    from pathlib import Path

    from ..data.io import list_images
    from ..infer.restore import output_paths

    sources = list_images([Path(p) for p in args.inputs])
    out = guard_folder(
        args.out, "-o/--out", "dcpt restore", image_file, args.overwrite, [Path(p) for p in args.inputs]
    )
    refuse_overwriting_inputs(output_paths(sources, out, args.ext), sources, "-o/--out")


def run(args: argparse.Namespace) -> int:
    from ..infer.restore import load_restorer, restore_paths

    check_tiling(args)
    check_outputs(args)
    options = speed_options(args) if args.engine == "torch" or args.bf16 or args.compile else None
    net = load_restorer(
        args.ckpt, args.engine, arch=args.arch, device=args.device, tlc=args.tlc, options=options
    )
    written = restore_paths(
        net,
        args.inputs,
        args.out,
        tile=args.tile,
        overlap=args.overlap,
        batch=args.tile_batch,
        bit_depth=args.bit_depth,
        ext=args.ext,
        show_progress=not args.quiet,
        on_restored=_print_metrics if args.metrics else None,
    )
    print(f"restored {len(written)} image(s) into {args.out}")
    return 0


def _print_metrics(source, img, restored) -> None:
    """``--metrics``: one line per image, ``name: PIQE a -> b (c%), NIQE ...``, as written (8 bits)."""
    from ..infer.no_reference import score_restoration, summary_line

    print(summary_line(score_restoration(img, restored, source.name)), flush=True)
