"""Atomic file writes: the one way dcpt writes a file that a user could lose.

A file appears complete or not at all: the bytes go to a hidden temporary file in the target's own
folder (so the final rename stays on one file system), are flushed to disk, and `os.replace` moves
them over the target; the folder is then flushed too where the platform allows it, so the rename
itself survives a power cut. A writer that fails, or a Ctrl-C, leaves the previous file untouched and
removes the temporary one. Only a kill between writing and renaming can leave a temporary file, and
`leftovers` finds those.

The temporary file is created with the usual ``0o666`` less the umask (not `tempfile.mkstemp`'s
``0o600``), so a checkpoint or an image is as readable as any file the user writes. It keeps the
target's suffix, because OpenCV and matplotlib choose the format from the file name.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Union

from .errors import DcptError

PathLike = Union[str, "os.PathLike[str]"]

TEMP_MARK = ".tmp-"
"""Part of every temporary name: ``.<stem>.tmp-<random><suffix>``."""


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path next to `path` for a writer that needs a file name (`torch.save`,
    Pillow's `save`, safetensors' `save_file`); when the block ends normally the file there is flushed
    and moved onto `path`. Parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(target)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def atomic_write(path: PathLike, data: Union[bytes, str], encoding: str = "utf-8") -> Path:
    """Write `data` (text is encoded with `encoding`, newlines kept as given) to `path` atomically."""
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
    return Path(path)


def check_output_folder(folder: PathLike, option: str = "--out") -> Path:
    """`folder` as a Path, or a one-line `DcptError` when a file already stands where the command's
    output folder (named `option` in the message) should be; the folder itself may be missing."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise DcptError(f"{option} {str(path)!r} is a file; expected a folder (it is created if missing)")
    return path


def leftovers(folder: PathLike) -> List[Path]:
    """Temporary files of atomic writes into `folder` that a kill cut short (never part of any result)."""
    return sorted(p for p in Path(folder).glob(f".*{TEMP_MARK}*") if p.is_file())


def _create_temp(target: Path) -> Path:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.stem}{TEMP_MARK}{secrets.token_hex(4)}{target.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; Windows cannot open a folder, and there the rename is journalled."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
