"""`dcpt degrade`: degrade image files, list the catalogue, or render a contact sheet.

dcpt degrade photo.png -t gaussian_noise -l 25 -o noisy.png
dcpt degrade photos/ -t "gaussian_blur:2,jpeg:40" --seed 3 -o degraded/
dcpt degrade --list [--json]
dcpt degrade photo.png --sheet sheet.png [--types haze rain] [--size 192]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import DataError, DcptError
from ..fileio import atomic_path
from .outputs import add_overwrite_option, guard_file, guard_folder, image_file, refuse_overwriting_inputs

EPILOG = """TYPE is a registered name or alias (see --list) with its level in -l, or a mixture applied in order,
such as "gaussian_blur:2,jpeg:40". Images are degraded one by one in sorted order from one generator
seeded with --seed, so a run is reproducible. 16-bit PNG/TIFF inputs give 16-bit outputs."""


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "degrade",
        help="degrade images, list the degradation catalogue, or render a contact sheet",
        description="Degrade image files with the catalogue's ops, list the catalogue, or draw a contact sheet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="*", metavar="IN", help="image files or folders of images")
    parser.add_argument(
        "-t", "--type", dest="type", metavar="TYPE", help="degradation name, alias or mixture"
    )
    parser.add_argument(
        "-l", "--level", type=float, metavar="LEVEL", help="severity, within the type's range"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("-o", "--output", metavar="OUT", help="output file (one input) or folder")
    parser.add_argument("-r", "--recursive", action="store_true", help="also read images in sub-folders")
    parser.add_argument(
        "--list", action="store_true", help="print the catalogue: name, family, range, meaning"
    )
    parser.add_argument("--json", action="store_true", help="with --list: print the catalogue as JSON")
    parser.add_argument("--sheet", metavar="OUT.png", help="render a contact sheet of IN to this PNG file")
    parser.add_argument("--types", nargs="+", metavar="TYPE", help="with --sheet: only these types")
    parser.add_argument(
        "--size", type=int, default=192, help="with --sheet: tile size in pixels (default 192)"
    )
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.list:
        return _list(args.json)
    if args.sheet:
        return _sheet(args)
    return _degrade(args)


def _list(as_json: bool) -> int:
    from ..degrade import catalogue

    entries = catalogue()
    if as_json:
        print(json.dumps(entries, indent=2))
        return 0
    rows = [("NAME", "FAMILY", "RANGE", "DESCRIPTION")]
    for e in entries:
        aliases = f" (aliases: {', '.join(e['aliases'])})" if e["aliases"] else ""
        rows.append(
            (e["name"], e["family"], f"[{e['level_min']:g}, {e['level_max']:g}]", e["description"] + aliases)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    return 0


def _sheet(args) -> int:
    from ..analysis.sheet import MAX_TILE, MIN_TILE, render_sheet
    from ..data.io import read_image

    if len(args.inputs) != 1:
        raise DcptError(f"--sheet needs exactly one input image, got {len(args.inputs)}")
    out = guard_file(args.sheet, "--sheet", [Path(args.inputs[0])])
    if out.suffix.lower() != ".png":
        raise DcptError(f"--sheet writes a PNG file; expected a name ending in .png, got {out.name!r}")
    if not MIN_TILE <= args.size <= MAX_TILE:
        raise DcptError(f"--size: expected a tile size in [{MIN_TILE}, {MAX_TILE}] pixels, got {args.size}")
    sheet = render_sheet(read_image(args.inputs[0]), types=args.types, size=args.size, seed=args.seed)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    print(f"wrote {out} ({sheet.width} x {sheet.height})")
    return 0


def _degrade(args) -> int:
    import torch

    from ..data.io import (
        IMAGE_EXTENSIONS,
        SIXTEEN_BIT_EXTENSIONS,
        list_images,
        read_image_with_depth,
        write_image,
    )
    from ..degrade import apply

    if not args.inputs:
        raise DcptError("give an input image or folder (or --list)")
    if not args.type:
        raise DcptError("give a degradation with -t TYPE (see dcpt degrade --list)")
    if not args.output:
        raise DcptError("give an output file or folder with -o OUT")
    files = list_images(args.inputs, recursive=args.recursive)
    out = Path(args.output)
    to_file = out.suffix.lower() in IMAGE_EXTENSIONS and not out.is_dir()
    if to_file and len(files) > 1:
        raise DataError(f"{out}: {len(files)} input images need an output folder, not an image file name")
    if not to_file:
        inputs = [Path(p) for p in args.inputs]
        guard_folder(out, "-o/--output", "dcpt degrade", image_file, args.overwrite, inputs)
    targets = [out] if to_file else [out / f.name for f in files]
    if len(set(targets)) != len(targets):
        raise DataError(f"two inputs share a file name, so their outputs in {out} would collide")
    refuse_overwriting_inputs(targets, files, "-o/--output")
    generator = torch.Generator().manual_seed(args.seed)
    for src, dst in zip(files, targets):
        img, depth = read_image_with_depth(src)
        lq = apply(args.type, img, level=args.level, generator=generator)
        keep16 = depth == 16 and dst.suffix.lower() in SIXTEEN_BIT_EXTENSIONS
        write_image(dst, lq, bit_depth=16 if keep16 else 8)
    where = targets[0] if to_file else out
    print(
        f"degraded {len(files)} image{'s' if len(files) != 1 else ''} with {args.type} -> {where}",
        file=sys.stdout,
    )
    return 0
