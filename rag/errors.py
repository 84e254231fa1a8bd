"""Errors are types with reasons. The CLI turns them into one line, the API into a 4xx."""
from __future__ import annotations

import enum


class DocchatError(Exception):
    """Base class: the message is meant for the user as it is."""


class LoadError(DocchatError):
    """A file could not be read into pages; the message says why."""


class IndexNotFoundError(DocchatError):
    """No index exists at the given directory."""


class IndexCorruptError(DocchatError):
    """The index directory exists but cannot be read."""


class IndexMismatchError(DocchatError):
    """The index was built with another embedding model than the settings name: its vectors
    and a question's would not compare (HTTP 409); 'docchat index' rebuilds it."""


class QuestionError(DocchatError):
    """The question is empty, too long or otherwise unusable."""


class EngineError(DocchatError):
    """The answer engine failed (server unreachable, model missing, timeout)."""


class UploadError(DocchatError):
    """An uploaded file was refused (bad name, too large, unsupported type). ``status`` is
    the HTTP status the API answers with (413 for too large, else 400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SourceMissingError(DocchatError):
    """A source folder or file of the index is not there (a typo, an unmounted drive, a
    network share that blinked). Nothing is changed: a missing source never means "all its
    files were deleted"; dropping a source is done by naming the sources to keep."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        names = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3
                                          else "")
        super().__init__(f"source not found: {names}; the index is unchanged (to drop a "
                         "source, run 'docchat index' with the sources to keep)")


class NotFoundError(DocchatError):
    """The document (or conversation) asked for does not exist (HTTP 404)."""


class SettingsError(DocchatError):
    """A setting (DOCCHAT_* variable or command-line option) has a value it cannot take; the
    message names the variable and what it accepts. The CLI exits 2 with that one line."""


class EmbeddingError(DocchatError):
    """The embedding server (DOCCHAT_EMBED_URL) failed: unreachable, refused the request or
    answered something that is not embeddings. Nothing is written to the index (HTTP 424)."""


class PathError(DocchatError):
    """A configured folder cannot be used (it is a file, or cannot be created or written):
    refused at start, in one line naming the setting, before anything is changed."""


class StorageError(DocchatError):
    """The disk holding the index has no room, fails, or is read-only: nothing was changed."""


class SqliteFailure(enum.Enum):
    """What a SQLite error says about the index's storage (sqlite_failure)."""
    FULL = "full"  # SQLITE_FULL: no room
    SHARED_MEMORY = "shared memory"  # SQLITE_IOERR_SHMOPEN / SHMSIZE: the -shm file
    IO = "io"  # any other SQLITE_IOERR: the disk failing
    READ_ONLY = "read-only"  # SQLITE_PERM, READONLY*, CANTOPEN: a read-only mount or folder


#: SQLite's primary result codes (the low byte of an extended code) and the extended codes of
#: a shared-memory file that cannot be made (``sqlite_errorname`` is Python 3.11+ only).
SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 3, 8, 10, 13, 14
SQLITE_IOERR_SHM = frozenset({SQLITE_IOERR | (18 << 8), SQLITE_IOERR | (19 << 8)})


def sqlite_failure(exc: BaseException) -> SqliteFailure | None:
    """The one classifier of SQLite's storage errors (the CLI's, the API's and the watcher's
    messages, and the store's read-only fallback, all read it); None for anything else.
    Python 3.10 has no error codes on the exception: its messages are read instead, and an
    I/O error there cannot be told from a shared-memory one (SHARED_MEMORY is said)."""
    import sqlite3

    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        said = str(exc)
        if "disk is full" in said:
            return SqliteFailure.FULL
        if "disk I/O error" in said:
            return SqliteFailure.SHARED_MEMORY
        if "readonly database" in said or "unable to open database file" in said:
            return SqliteFailure.READ_ONLY
        return None
    if code & 0xFF == SQLITE_FULL:
        return SqliteFailure.FULL
    if code in SQLITE_IOERR_SHM:
        return SqliteFailure.SHARED_MEMORY
    if code & 0xFF == SQLITE_IOERR:
        return SqliteFailure.IO
    if code & 0xFF in (SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN):
        return SqliteFailure.READ_ONLY
    return None


def storage_error(exc: BaseException) -> StorageError | None:
    """``exc`` as a StorageError when it is SQLite saying the disk is full or failing
    (a build on a full disk printed a traceback) or the index is read-only (issue 20 item
    12: a traceback too), else None."""
    failure = sqlite_failure(exc)
    if failure is None:
        return None
    if failure is SqliteFailure.READ_ONLY:
        return StorageError(
            f"the index cannot be written: its folder or files are read-only ({exc}); "
            "nothing was changed, the index keeps its last complete state")
    return StorageError(f"the index's disk is full or failing ({exc}): nothing was "
                        "changed, the index keeps its last complete state")
