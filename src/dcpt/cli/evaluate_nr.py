"""`dcpt evaluate --no-reference DIR --ckpt CKPT`: PIQE / NIQE of real photographs before and after restoration."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DcptError
from .checks import check_tiling
from .outputs import guard_folder, image_file, named

CONVENTIONS = (
    "no reference: PIQE and NIQE (dcpt.metrics, pyiqa's conventions; lower is better) of each input as read "
    "and of its restoration rounded to 8 bits; change = 100 * (restored - input) / input, the Mean row's "
    "from the means; NIQE needs 96 x 192 pixels at least (n/a below)"
)


def check_no_reference(args: argparse.Namespace) -> Path:
    """The options that go with --no-reference DIR; returns DIR."""
    folder = Path(args.no_reference)
    check_tiling(args)
    if args.identity or args.model is not None:
        raise DcptError(
            "--no-reference compares each photograph with its restoration: give --ckpt CKPT, not an identity model"
        )
    for flag, given in (
        ("--benchmark", args.benchmark),
        ("--data-root", args.data_root),
        ("--pairs", args.pairs),
        ("--set", args.overrides),
    ):
        if given:
            raise DcptError(
                f"{flag} scores paired data against ground truth; --no-reference scores a folder of "
                "photographs without it: give one or the other"
            )
    if args.protocol != "toolkit":
        raise DcptError(
            f"--protocol {args.protocol} is a release's paired test pipeline; drop it with --no-reference"
        )
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise DcptError(f"--no-reference {str(folder)!r} {what}; expected a folder of photographs")
    if args.out:
        from ..infer.no_reference import REPORT_FILES

        guard_folder(args.out, "--out", "dcpt evaluate", named(*REPORT_FILES), args.overwrite, [folder])
    if args.save_images:
        saved = guard_folder(
            args.save_images, "--save-images", "dcpt evaluate", image_file, args.overwrite, [folder]
        )
        inside = saved.resolve() in folder.resolve().parents or folder.resolve() in saved.resolve().parents
        if inside:
            raise DcptError(
                f"--save-images {str(saved)!r} overlaps the photographs' folder {str(folder)!r}; "
                "give a folder outside it"
            )
    return folder


def run_no_reference(args: argparse.Namespace) -> int:
    from ..infer.no_reference import evaluate_folder, markdown_table, write_reports
    from ..infer.restore import load_model

    folder = check_no_reference(args)
    net = load_model(args.ckpt, arch=args.arch, device=args.device, tlc=args.tlc)
    result = evaluate_folder(
        net,
        folder,
        tile=args.tile,
        overlap=args.overlap,
        batch=args.tile_batch,
        save_dir=args.save_images,
        show_progress=not args.quiet,
    )
    print(markdown_table(result))
    if args.out:
        meta = {
            "ckpt": args.ckpt,
            "arch": args.arch,
            "folder": str(folder),
            "tile": args.tile,
            "overlap": args.overlap,
            "tlc": args.tlc,
            "conventions": CONVENTIONS,
        }
        paths = write_reports(result, args.out, meta)
        print(f"wrote {paths['md']}, {paths['csv']} and {paths['json']}")
    return 0
