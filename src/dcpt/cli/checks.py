"""Range checks of numeric command-line options, phrased with the option's own name.

argparse's own errors print the usage block too; these end in one line and exit code 2 like
every other user mistake (`DcptError`).
"""

from __future__ import annotations

import argparse
from typing import Optional

from ..errors import DcptError


def at_least(args: argparse.Namespace, dest: str, minimum: int, what: str = "") -> None:
    """Refuse ``args.<dest> < minimum``; None (an option left out) is accepted."""
    value: Optional[int] = getattr(args, dest)
    if value is not None and value < minimum:
        option = "--" + dest.replace("_", "-")
        hint = f" ({what})" if what else ""
        raise DcptError(f"{option}: expected an integer >= {minimum}{hint}, got {value}")


def check_tiling(args: argparse.Namespace) -> None:
    """--tile / --overlap / --tile-batch of `restore` and `evaluate`."""
    at_least(args, "tile", 0, "pixels; 0 restores whole images")
    at_least(args, "overlap", 0, "pixels")
    at_least(args, "tile_batch", 1, "tiles per forward pass")
    if args.tile and args.overlap >= args.tile:
        raise DcptError(f"--overlap {args.overlap} must be smaller than --tile {args.tile}")
