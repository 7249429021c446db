"""The one family of expected failures.

An expected failure is one the user can fix without touching the code: a config value
that cannot work, a missing, damaged or unreadable file, data that break the canonical
schema, training that diverged. Each is raised as a ``UserError`` (or a subclass) whose
message is one line that names the culprit — the file, variable, chunk, trajectory or
config key — and says what to do. ``onsagerflow``'s command line prints that line and
exits with status 1; any other exception is a bug and keeps its traceback.

The older error classes of the package (ConfigError, SchemaError, StoreError,
IngestError, TimeGridError, CFLError) are members of this family; they keep their
builtin bases (ValueError, OSError, FloatingPointError) so existing ``except`` clauses
still catch them.
"""

from __future__ import annotations

import errno

EXIT_USER_ERROR = 1  # exit status of an expected failure (Python's own for an uncaught bug)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class UserError(Exception):
    """An expected failure; ``str(exc)`` is one line naming the culprit and what to do."""


class DamagedFileError(UserError, OSError):
    """A file that exists but cannot be read as what it should be: a truncated or
    corrupt store chunk, checkpoint or JSON file, or a missing piece of a store."""


class TrainingFailed(UserError, FloatingPointError):
    """Training diverged (non-finite loss) or ended no better than it started; no
    checkpoint is written."""


# OSErrors that are the environment's doing, not the code's: named as one line.
EXPECTED_ERRNOS = {
    errno.ENOENT: "does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENOTEMPTY: "folder not empty",
}
OS_HINTS = {
    errno.EACCES: "make it writable (or readable), or choose another results folder (--config results=...)",
    errno.EPERM: "make it writable (or readable), or choose another results folder (--config results=...)",
    errno.EROFS: "choose a results folder on a writable file system (--config results=...)",
    errno.ENOSPC: "free disk space or choose another results folder (--config results=...)",
    errno.EDQUOT: "free disk space or choose another results folder (--config results=...)",
}


MAX_MESSAGE = 2000  # characters of a one-line message; a longer one is cut (--debug shows it whole)


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """A message (or an exception's) on one line: line breaks and runs of blanks become
    single spaces, and a message longer than ``limit`` is cut there."""
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = f"{line[:limit]} … ({len(line) - limit} more characters: --debug shows them)"
    return line


def expected_os_error(exc: BaseException) -> str | None:
    """The one-line message of an OSError caused by the environment (a missing path, a
    read-only or full disk), or None for any other exception."""
    if isinstance(exc, FileNotFoundError) and exc.errno is None:
        return one_line(exc)  # raised by our own code with its message, e.g. 'source.files: ...'
    if not isinstance(exc, OSError) or isinstance(exc, UserError) or exc.errno not in EXPECTED_ERRNOS:
        return None
    where = exc.filename if exc.filename is not None else "?"
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    hint = OS_HINTS.get(exc.errno)
    return f"{where}: {EXPECTED_ERRNOS[exc.errno]}" + (f"; {hint}" if hint else "")
