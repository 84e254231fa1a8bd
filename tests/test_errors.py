"""rag/errors.py: the one classifier of SQLite's storage errors, on errors SQLite itself
raises (a read-only file, a file that cannot be opened) and on codes it gives only on a
full or failing disk (set on a real sqlite3 error, as SQLite would)."""
from __future__ import annotations

import sqlite3

import pytest

from rag.errors import SqliteFailure, StorageError, sqlite_failure, storage_error


def _raised(fn) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        fn()
    return caught.value


def test_a_read_only_database_is_read_only(tmp_path):
    path = tmp_path / "meta.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    exc = _raised(lambda: ro.execute("INSERT INTO t VALUES (1)"))
    assert sqlite_failure(exc) is SqliteFailure.READ_ONLY
    said = storage_error(exc)
    assert isinstance(said, StorageError) and "read-only" in str(said)


def test_a_database_that_cannot_be_opened_is_read_only(tmp_path):
    exc = _raised(lambda: sqlite3.connect(f"file:{tmp_path}/none/meta.sqlite?mode=ro",
                                          uri=True).execute("SELECT 1"))
    assert sqlite_failure(exc) is SqliteFailure.READ_ONLY


@pytest.mark.parametrize("code, failure", [
    (13, SqliteFailure.FULL),                      # SQLITE_FULL
    (10 | (18 << 8), SqliteFailure.SHARED_MEMORY),  # SQLITE_IOERR_SHMOPEN
    (10 | (19 << 8), SqliteFailure.SHARED_MEMORY),  # SQLITE_IOERR_SHMSIZE
    (10 | (3 << 8), SqliteFailure.IO),              # SQLITE_IOERR_WRITE
    (8 | (1 << 8), SqliteFailure.READ_ONLY),        # SQLITE_READONLY_RECOVERY
    (1, None),                                      # SQLITE_ERROR: a bug, not the disk
    (5, None),                                      # SQLITE_BUSY
])
def test_codes_are_classified_by_their_primary_code(code, failure):
    exc = sqlite3.OperationalError("said by SQLite")
    exc.sqlite_errorcode = code
    assert sqlite_failure(exc) is failure
    said = storage_error(exc)
    if failure is None:
        assert said is None
    else:
        assert ("read-only" if failure is SqliteFailure.READ_ONLY else "full or failing") \
            in str(said)


def test_without_codes_the_message_is_read():
    """Python 3.10's sqlite3 errors carry no codes (no attribute at all)."""
    class Old(sqlite3.OperationalError):
        sqlite_errorcode = None

    assert sqlite_failure(Old("database or disk is full")) is SqliteFailure.FULL
    assert sqlite_failure(Old("attempt to write a readonly database")) is \
        SqliteFailure.READ_ONLY
    assert sqlite_failure(Old("no such table: files")) is None


def test_other_errors_are_not_storage_errors():
    assert sqlite_failure(OSError(28, "No space left on device")) is None
    assert storage_error(ValueError("x")) is None
