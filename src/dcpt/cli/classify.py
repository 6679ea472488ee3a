"""`dcpt classify IN... --ckpt CKPT [--json]`: name the degradation of each image."""

from __future__ import annotations

import argparse

from .checks import at_least
from .restore import add_device_option


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="name the degradation of images with a pre-trained checkpoint's classifier",
        description="Print the predicted degradation type and the class probabilities of each image, "
        "using the classifier bundled in a DCPT / MaskDCPT checkpoint.",
        epilog="example:\n  dcpt classify photos/ --ckpt runs/demo-pt/final.safetensors --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("--ckpt", required=True, metavar="CKPT", help="dcpt checkpoint with a classifier")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    parser.add_argument(
        "--crop",
        type=int,
        default=None,
        metavar="N",
        help="classify the central N x N crop (bounds memory on large images)",
    )
    add_device_option(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    import json

    from ..infer.classify import classify_paths

    at_least(args, "crop", 1, "pixels")
    predictions = classify_paths(args.ckpt, args.inputs, device=args.device, crop=args.crop)
    if args.json:
        print(json.dumps([p.as_dict() for p in predictions], indent=2))
        return 0
    for p in predictions:
        ranked = sorted(p.probabilities.items(), key=lambda kv: -kv[1])
        print(
            f"{p.path}: {p.label} ({p.probabilities[p.label]:.3f})  "
            + "  ".join(f"{name} {prob:.3f}" for name, prob in ranked)
        )
    return 0
