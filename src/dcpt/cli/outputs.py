"""Checks every writing command makes before it writes: outputs never destroy inputs.

Three mistakes cost users their files, and each has one check here:

- the output *is* an input (``dcpt restore photos -o photos`` replaced the photographs): refused;
- an output file would replace an input file (a folder holding both): refused;
- the output folder already holds files this command never writes (a run folder, a data set, a home
  folder): refused unless ``--overwrite`` says the user means it. Re-running into a folder of the
  command's own kind (its earlier output) is allowed, so a run can be repeated or resumed.

Folder names with an extension (``-o a.xyz``) are refused too: such a name was meant as a file, and
quietly creating a folder called ``a.xyz`` hides the mistake.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from ..errors import DcptError

FILE_LIKE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")
"""A suffix that reads as a file extension (``.png``, ``.xyz``), not a version tag such as ``.2``."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="allow writing into a non-empty folder that holds files this command does not write",
    )


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def output_folder(path: str | Path, option: str) -> Path:
    """`path` as the folder a command writes into: not an existing file, not a file-like name."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise DcptError(f"{option} {str(folder)!r} is a file; expected a folder (it is created if missing)")
    if not folder.exists() and FILE_LIKE_SUFFIX.fullmatch(folder.suffix):
        raise DcptError(
            f"{option} {str(folder)!r} looks like a file name ({folder.suffix}), but this writes a folder; "
            "give a folder name without an extension"
        )
    return folder


def check_writable(folder: Path, option: str) -> None:
    """Refuse a folder the user may not write into (or may not create), before any work is done."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
        what = (
            "is not writable"
            if existing == folder
            else f"cannot be created: {str(existing)!r} is not writable"
        )
        raise DcptError(f"{option} {str(folder)!r} {what}")


def refuse_input_folders(out: Path, inputs: Iterable[Path], option: str) -> None:
    """Refuse an output folder that is one of the input folders (or input files)."""
    for source in inputs:
        if _same(out, Path(source)):
            raise DcptError(
                f"{option} {str(out)!r} is also an input; write into another folder so the inputs are kept"
            )


def refuse_overwriting_inputs(targets: Sequence[Path], sources: Iterable[Path], option: str) -> None:
    """Refuse when any file to be written is (resolves to) one of the input files."""
    inputs = set()
    for source in sources:
        try:
            inputs.add(Path(source).resolve())
        except OSError:
            continue
    for target in targets:
        try:
            resolved = Path(target).resolve()
        except OSError:
            continue
        if resolved in inputs:
            raise DcptError(
                f"{option}: writing {str(target)!r} would overwrite that input; choose another output"
            )


def image_file(entry: Path) -> bool:
    return entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES


def named(*names: str, prefixes: Sequence[str] = ()) -> Callable[[Path], bool]:
    """An entry test: the entry's name is one of `names` or starts with one of `prefixes`."""
    return lambda entry: entry.name in names or any(entry.name.startswith(p) for p in prefixes)


def check_folder_kind(
    folder: Path,
    belongs: Callable[[Path], bool],
    command: str,
    option: str,
    overwrite: bool,
) -> None:
    """Refuse a non-empty `folder` holding an entry `belongs` rejects, unless `overwrite`.

    Hidden entries (``.DS_Store``, an interrupted atomic write's temporary file) never count.
    """
    if overwrite or not folder.is_dir():
        return
    strangers = sorted(e.name for e in folder.iterdir() if not e.name.startswith(".") and not belongs(e))
    if strangers:
        more = f" and {len(strangers) - 1} more" if len(strangers) > 1 else ""
        raise DcptError(
            f"{option} {str(folder)!r} holds files that {command} does not write ({strangers[0]!r}{more}); "
            "choose an empty or new folder, or pass --overwrite"
        )


def guard_folder(
    path: str | Path,
    option: str,
    command: str,
    belongs: Callable[[Path], bool],
    overwrite: bool,
    inputs: Iterable[Path] = (),
) -> Path:
    """All folder checks in their order: a folder name, not an input, of this command's kind."""
    folder = output_folder(path, option)
    check_writable(folder, option)
    refuse_input_folders(folder, inputs, option)
    check_folder_kind(folder, belongs, command, option, overwrite)
    return folder


def guard_file(path: str | Path, option: str, inputs: Iterable[Path], overwrite: bool = True) -> Path:
    """An output file: not a folder, not an input, and not an existing file unless `overwrite`."""
    target = Path(path)
    if target.is_dir():
        raise DcptError(f"{option} {str(target)!r} is a folder; expected a file name")
    refuse_overwriting_inputs([target], inputs, option)
    if target.exists() and not overwrite:
        raise DcptError(f"{option} {str(target)!r} exists; pass --overwrite to replace it")
    return target


def optional_folder(
    path: Optional[str],
    option: str,
    command: str,
    belongs: Callable[[Path], bool],
    overwrite: bool,
    inputs=(),
) -> Optional[Path]:
    return None if path is None else guard_folder(path, option, command, belongs, overwrite, inputs)
