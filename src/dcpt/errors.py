"""User-facing errors.

Anything a user can get wrong (a path, a config key, a level, a checkpoint) raises `DcptError`
with one line that says what was expected and what arrived. The CLI turns it into that line on
stderr and exit code 2; every other exception is a bug and keeps its traceback.
"""


class DcptError(Exception):
    """A mistake in the user's input: reported as one line, exit code 2."""


class ConfigError(DcptError):
    """An invalid run configuration (unknown key, wrong type, bad value)."""


class DataError(DcptError):
    """Unreadable, missing or unsuitable data (image files, folders, data sets)."""


class CheckpointError(DcptError):
    """A checkpoint that is missing, corrupt, unsafe or of another architecture."""
