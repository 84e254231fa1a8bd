"""Errors are types with reasons. The CLI turns them into one line, the API into a 4xx."""
from __future__ import annotations


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


def storage_error(exc: BaseException) -> StorageError | None:
    """``exc`` as a StorageError when it is SQLite saying the disk is full or failing
    (SQLITE_FULL, SQLITE_IOERR_*: a build on a full disk printed a traceback) or the index is
    read-only (SQLITE_READONLY*, SQLITE_PERM), else None."""
    import sqlite3

    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; 3.10: the message only
    full = code & 0xFF in (10, 13) if code is not None else \
        "disk is full" in str(exc) or "disk I/O error" in str(exc)  # SQLITE_IOERR*, FULL
    if full:
        return StorageError(f"the index's disk is full or failing ({exc}): nothing was "
                            "changed, the index keeps its last complete state")
    readonly = code & 0xFF in (3, 8, 14) if code is not None else any(
        m in str(exc) for m in ("readonly database", "unable to open database file"))
    if readonly:  # SQLITE_PERM, READONLY*, CANTOPEN: a read-only mount, folder or file
        return StorageError(  # printed a traceback (issue 20 item 12)
            f"the index cannot be written: its folder or files are read-only ({exc}); "
            "nothing was changed, the index keeps its last complete state")
    return None
