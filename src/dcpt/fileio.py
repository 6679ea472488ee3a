"""Atomic file writes: the one way dcpt writes a file that a user could lose.

A file appears complete or not at all: the bytes go to a hidden temporary file in the target's own
folder (so the final rename stays on one file system), are flushed to disk, and `os.replace` moves
them over the target; the folder is then flushed too where the platform allows it, so the rename
itself survives a power cut. A writer that fails, or a Ctrl-C, leaves the previous file untouched and
removes the temporary one. Only a kill between writing and renaming can leave a temporary file, and
`leftovers` finds those (`remove_leftovers` clears them when a run folder is reopened).

Any operating-system error on the way (no space, read-only file system, quota, permission) becomes a
one-line `WriteError` naming the file and the cause, with the temporary file removed, so a full disk
is reported like any other user problem and is not kept full by the failed attempt. Some writers hide
the `OSError` (torch's zip writer raises a `RuntimeError` with the `OSError` as its context, Rust
writers print ``os error 28``); `_os_cause` digs the cause out of those.

The temporary file is created with the usual ``0o666`` less the umask (not `tempfile.mkstemp`'s
``0o600``), so a checkpoint or an image is as readable as any file the user writes. It keeps the
target's suffix, because OpenCV and matplotlib choose the format from the file name.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Union

from .errors import DcptError

PathLike = Union[str, "os.PathLike[str]"]

TEMP_MARK = ".tmp-"
"""Part of every temporary name: ``.<stem>.tmp-<random><suffix>``."""


class WriteError(DcptError):
    """A file could not be written (no space, read-only, quota, permission): one line, exit code 2.

    `path` is the file that was being written and `errno` the operating system's error number."""

    def __init__(self, path: PathLike, cause: OSError):
        self.path = Path(path)
        self.errno = cause.errno
        code = errno.errorcode.get(cause.errno or 0)
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(f"cannot write {str(path)!r}: {reason}" + (f" ({code})" if code else ""))


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path next to `path` for a writer that needs a file name (`torch.save`,
    Pillow's `save`, safetensors' `save_file`); when the block ends normally the file there is flushed
    and moved onto `path`. Parent folders are created. An OS error anywhere raises `WriteError`.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(target)
    except OSError as exc:
        raise WriteError(target, exc) from None
    try:
        yield tmp
        _fsync_file(tmp)
        _user_mode(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        with _quiet():
            tmp.unlink(missing_ok=True)
        cause = _os_cause(exc) if isinstance(exc, Exception) else None
        if cause is None or isinstance(exc, DcptError):
            raise
        raise WriteError(target, cause) from None
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


def remove_leftovers(folder: PathLike) -> List[Path]:
    """Delete `leftovers(folder)` and return them. Only safe while no other process writes into
    `folder` (a run folder holds its lock when this is called)."""
    found = leftovers(folder)
    for path in found:
        path.unlink(missing_ok=True)
    return found


_RUST_OS_ERROR = re.compile(r"os error (\d+)")


def _os_cause(exc: BaseException) -> Optional[OSError]:
    """The `OSError` behind `exc`: itself, the one it directly wraps (torch's writer), or one that a
    foreign writer only printed (``... (os error 28)``); None for errors that are not about the disk.
    Only two links are followed, so an old `OSError` handled long before is not blamed."""
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 2:
        if isinstance(current, OSError):
            return current
        match = _RUST_OS_ERROR.search(str(current)) if isinstance(current, Exception) else None
        if match:
            number = int(match.group(1))
            return OSError(number, os.strerror(number))
        current = current.__cause__ or current.__context__
        seen += 1
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """Clean-up that must not hide the error being reported (an unlink on a read-only disk)."""
    try:
        yield
    except OSError:
        pass


def _create_temp(target: Path) -> Path:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.stem}{TEMP_MARK}{secrets.token_hex(4)}{target.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp


def _user_mode(path: Path) -> None:
    """Give `path` the usual ``0o666`` less the umask: some writers (safetensors' `save_file`) replace
    the temporary file with one of mode ``0o600``, which the rename would hand to the user."""
    mask = os.umask(0)
    os.umask(mask)
    with _quiet():
        os.chmod(path, 0o666 & ~mask)


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
