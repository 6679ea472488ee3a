"""`dcpt app [--checkpoint CKPT] [--port N] [--host ADDR]`: the local web app (needs `dcpt[app]`)."""

from __future__ import annotations

import argparse

from .checks import at_least
from .restore import add_device_option


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "app",
        help="a local web page: upload a photo, see its degradation and the restoration",
        description="Start a local Gradio app: upload a photo or pick an example, see the classifier's "
        "degradation probabilities, the restored image with a before/after slider, PIQE before and "
        "after, and download the result. Runs offline; needs the extra: pip install 'dcpt[app]'.",
        epilog="example:\n  dcpt app --port 7860   # then open http://127.0.0.1:7860",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint",
        "--ckpt",
        dest="checkpoint",
        default=None,
        metavar="CKPT",
        help="dcpt checkpoint (default: the shipped MaskDCPT demo model); one without a classifier "
        "restores but names no degradation",
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME",
        help="model name for a BasicSR .pth checkpoint, e.g. nafnet-5d",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, metavar="N", help="port (default: 7860)")
    parser.add_argument(
        "--tile",
        type=int,
        default=512,
        metavar="N",
        help="restore images larger than N x N pixels in N x N tiles (default: 512; 0: always whole)",
    )
    add_device_option(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..app.ui import import_gradio, serve
    from ..errors import DcptError

    at_least(args, "port", 1, "a TCP port")
    at_least(args, "tile", 0, "pixels")
    if args.port > 65535:
        raise DcptError(f"--port: expected a TCP port <= 65535, got {args.port}")
    import_gradio()
    from ..app.core import Session

    session = Session(args.checkpoint, device=args.device, arch=args.arch, tile=args.tile)
    print(f"dcpt app: http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    serve(session, host=args.host, port=args.port)
    return 0
