"""What an unreadable image does to a data set: stop the run, or be left out and counted.

A few hand-picked photographs with one broken file are a mistake the user wants to hear about at once
(``error``, the default). A large scraped folder always holds some broken files; there the user wants
them left out and counted (``skip``), as WebDataset's handlers do, but still to be stopped when so many
are broken that the folder itself must be wrong: more than `max_fraction` of a data set's files.

Each skipped file is reported once (a warning on the ``dcpt.data`` logger, which Python prints on
stderr when nothing else is configured); a data set that checks its files up front also logs a
summary. A data set read lazily by DataLoader workers counts in each worker process, so there the
limit applies per process.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Dict, Optional

from ..errors import ConfigError, DataError

LOG = logging.getLogger("dcpt.data")
MODES = ("error", "skip")


@dataclass(frozen=True)
class BadSamplePolicy:
    """``mode``: ``error`` (stop at the first unreadable file) or ``skip`` (leave it out, count it).
    `max_fraction` in [0, 1]: the share of a data set's files that may be skipped. `option` and
    `fraction_option` name the two settings in messages (``data.on_bad_sample`` in a run config, a
    flag on the command line); an empty `option` leaves the hint out where the caller has no such
    setting."""

    mode: str = "error"
    max_fraction: float = 0.01
    option: str = "data.on_bad_sample"
    fraction_option: str = "data.max_bad_fraction"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"{self.option or 'on_bad_sample'}: expected error or skip, got {self.mode!r}")
        fraction = self.max_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise ConfigError(f"{self.fraction_option}: expected a fraction in [0, 1], got {fraction!r}")

    @property
    def skip(self) -> bool:
        return self.mode == "skip"

    def allowed(self, total: int) -> int:
        """How many of `total` files may be skipped: bad / total may not exceed `max_fraction`."""
        return int(math.floor(self.max_fraction * total + 1e-9))


class Unreadable(Exception):
    """A file that could not be read, kept apart from other DataErrors (a readable image of the wrong
    size is a setting to fix, not a bad sample)."""

    def __init__(self, error: DataError):
        super().__init__(str(error))
        self.error = error


class BadSamples:
    """The bad files met in one data set of `total` files, and the decision about each.

    `record` either raises (policy ``error``, or the limit passed) or logs the file once and returns,
    so the caller can leave the file out.
    """

    def __init__(self, policy: Optional[BadSamplePolicy], total: int, what: str = "images"):
        self.policy = policy or BadSamplePolicy()
        self.total, self.what = int(total), what
        self.reasons: Dict[str, str] = {}

    @property
    def count(self) -> int:
        return len(self.reasons)

    def record(self, path: str, error: DataError) -> None:
        """Note that `path` could not be used because of `error` (whose message names the file)."""
        message = str(error)
        if not self.policy.skip:
            hint = f" ({self.policy.option}: skip leaves such files out)" if self.policy.option else ""
            raise DataError(message + hint) from None
        if path in self.reasons:
            return
        self.reasons[path] = message
        if self.count > self.policy.allowed(self.total):
            raise DataError(
                f"{self.count} of {self.total} {self.what} are unreadable, above "
                f"{self.policy.fraction_option} {self.policy.max_fraction:g}; the latest: {message}"
            )
        LOG.warning(
            "dcpt: warning: skipped bad sample %d (of %d %s, at most %d allowed): %s",
            self.count,
            self.total,
            self.what,
            self.policy.allowed(self.total),
            message,
        )

    def summary(self) -> str:
        """One line such as ``skipped 2 of 100 images (unreadable)``; empty when none was bad."""
        if not self.count:
            return ""
        return f"skipped {self.count} of {self.total} {self.what} (unreadable; the warnings name them)"

    def log_summary(self) -> None:
        if self.count:
            LOG.warning("dcpt: warning: %s", self.summary())
