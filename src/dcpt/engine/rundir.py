"""A run folder belongs to one run at a time, and reopening it leaves nothing of a killed process.

`RunLock` takes an exclusive OS lock (``fcntl.flock``) on ``<run>/.lock``. The kernel releases it
when the holder exits in any way, ``kill -9`` included, so a crashed run never leaves a stale lock
to clear by hand; a second run into the same folder fails at once with the holder's PID, which the
holder writes into the lock file. The lock file itself is never deleted: another process may have
it open, and a fresh file at the same name would give two holders. Where ``fcntl`` does not exist
(Windows) the folder is not locked; everything else still works.

`reopen` is what a run does once it holds the lock: it removes the temporary files of atomic writes
that a kill cut short (a checkpoint write killed midway leaves a 0-byte ``.last.tmp-*.pt``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO, List, Optional, Type

from ..errors import DcptError
from ..fileio import WriteError, remove_leftovers

try:
    import fcntl
except ImportError:  # not POSIX: runs go unlocked
    fcntl = None  # type: ignore[assignment]

LOCK = ".lock"


class RunFolderBusy(DcptError):
    """Another live process is training into the same run folder."""


class RunLock:
    """``with RunLock(folder):`` holds `folder` for this process (the folder is created)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self._fh: Optional[IO[str]] = None

    def acquire(self) -> "RunLock":
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise WriteError(self.path, exc) from None
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_pid(fh)
                fh.close()
                raise RunFolderBusy(
                    f"{self.folder} is in use by another dcpt run (PID {holder}); "
                    "wait for it to end or choose another --out"
                ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the last descriptor drops the flock
            self._fh = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(
        self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.release()


def _holder_pid(fh: IO[str], wait_s: float = 0.5) -> str:
    """The PID the holder wrote; it writes right after locking, so an empty file is read again briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        fh.seek(0)
        text = fh.read().strip()
        if text or time.monotonic() > deadline:
            return text or "unknown"
        time.sleep(0.02)


def reopen(folder: Path) -> List[Path]:
    """Clear what a killed process left in a run folder this process holds; returns what was removed."""
    return remove_leftovers(folder) if Path(folder).is_dir() else []
