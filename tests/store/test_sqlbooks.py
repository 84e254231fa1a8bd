"""The bookkeeping both stores keep in SQLite (rag/store/sqlbooks.py): read-only connections
(and reading the file as it is when no shared memory can be made and no log is left), file
rows written only when they changed, skipped files, documents, and the plan's bookkeeping."""
from __future__ import annotations

import sqlite3

import pytest


class _NoSharedMemory:
    """A connection whose first read fails as WAL mode fails on a full disk."""

    def execute(self, *args):
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = 10 | (19 << 8)  # SQLITE_IOERR_SHMSIZE
        exc.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
        raise exc

    def close(self):
        pass


def test_without_room_the_file_is_read_as_it_is_only_when_no_log_is_left(tmp_path,
                                                                         monkeypatch):
    """With a write-ahead log left beside the file (a writer died on the full disk), reading
    the file alone could see a stale or half-checkpointed state: refused, in words."""
    from rag.errors import StorageError
    from rag.store import sqlbooks

    path = tmp_path / "meta.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.close()  # the last connection: everything checkpointed, the log removed
    real = sqlbooks._connect_ro
    monkeypatch.setattr(sqlbooks, "_connect_ro", lambda p, options: real(p, options)
                        if "immutable" in options else _NoSharedMemory())
    assert sqlbooks.connect_reader(path).execute("SELECT x FROM t").fetchone() == (1,)
    (tmp_path / "meta.sqlite-wal").write_bytes(b"\0" * 4096)  # a log a writer left
    with pytest.raises(StorageError, match="not checkpointed"):
        sqlbooks.connect_reader(path)
