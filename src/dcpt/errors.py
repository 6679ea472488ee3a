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


def one_line(text: object, limit: int = 300) -> str:
    """`text` (an exception, a quoted header) as one line of at most `limit` characters: every run of
    whitespace, newlines included, becomes one space, and a longer text is cut with "...".

    For text that comes from outside dcpt (a library's multi-line error, a damaged file's bytes)
    before it goes into a DcptError, whose message the CLI prints as one line."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
