"""The bookkeeping tables both stores keep in SQLite (files, contents, skipped, meta): the
same SQL for the embedded store (rag.store.local) and the Milvus store (rag.store.milvus),
whose vectors and postings live elsewhere but whose plan of a run is docchat's own."""
from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from rag.store.protocol import Bookkeeping, DocumentRecord, FileRecord
from rag.errors import (SQLITE_PERM, IndexCorruptError, SqliteFailure, StorageError,
                        sqlite_failure)
from rag.types import Skipped

log = logging.getLogger(__name__)
_warned: set[str] = set()  # index files read without shared memory (said once each)

Query = Callable[..., list]  # (sql, *params) -> rows, inside the reader's snapshot


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (autocommit; callers open their own read transaction).

    On a full disk WAL mode cannot create its shared-memory file, and every read failed
    (SQLITE_IOERR_SHMSIZE): the intact index was reported as "no index" until space was freed
    (issue 20, item 10); in a folder that cannot be written (a read-only mount or copy) it
    cannot either (SQLITE_CANTOPEN, SQLITE_READONLY_*), and `docchat status` printed a
    traceback (item 12). Then, when no write-ahead log is left beside the file (its last
    writer closed cleanly: everything is checkpointed into the file), the file is read as it
    is on disk (``immutable``). With a log left (a writer died on the full disk, or one may
    still be writing), reading without it could see a stale or half-checkpointed state: that
    is a StorageError instead."""
    db = _connect_ro(path, "mode=ro")
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        db.close()
        if not _no_shared_memory(exc) or not path.is_file():
            raise
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StorageError(f"the index's shared-memory file cannot be made ({exc}: a full "
                               "disk or a read-only folder) and its last write is not "
                               "checkpointed: free some space or make the folder writable, "
                               "then it reads as before") from exc
        if str(path) not in _warned:
            _warned.add(str(path))
            log.warning("cannot make the index's shared-memory file (disk full or read-only "
                        "folder?): reading %s as it is on disk", path)
        db = _connect_ro(path, "mode=ro&immutable=1")
    return db


def _no_shared_memory(exc: sqlite3.Error) -> bool:
    """Whether opening failed for want of the shared-memory file: no room for it, or a
    folder it cannot be made in (rag.errors.sqlite_failure classifies). SQLITE_PERM (a lock
    call refused) is not one: the immutable read this allows would ignore locks."""
    if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF == SQLITE_PERM:
        return False
    return sqlite_failure(exc) in (SqliteFailure.FULL, SqliteFailure.SHARED_MEMORY,
                                   SqliteFailure.READ_ONLY)


def _connect_ro(path: Path, options: str) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?{options}", uri=True, isolation_level=None,
                         check_same_thread=False)
    db.execute("PRAGMA query_only=1")
    return db


def write_files(db: sqlite3.Connection, files: Sequence[FileRecord],
                skipped: Sequence[Skipped]) -> None:
    """Write only the file rows that changed (a content change restamps indexed_at), and the
    skipped files with the sha of their content when it is known."""
    stamp = now()
    current = {f.path: f for f in files}
    before = {p: (sha, size, mtime) for p, sha, size, mtime in
              db.execute("SELECT path, sha, size, mtime_ns FROM files")}
    db.executemany("DELETE FROM files WHERE path = ?",
                   [(p,) for p in before if p not in current])
    db.executemany(
        "INSERT INTO files (path, sha, size, indexed_at, mtime_ns) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET "
        "indexed_at = CASE WHEN files.sha = excluded.sha THEN files.indexed_at "
        "ELSE excluded.indexed_at END, sha = excluded.sha, size = excluded.size, "
        "mtime_ns = excluded.mtime_ns",
        [(f.path, f.sha, f.size, stamp, f.mtime_ns) for f in current.values()
         if before.get(f.path) != (f.sha, f.size, f.mtime_ns)])
    db.execute("DELETE FROM skipped")
    db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?)",
                   [(s.path, current[s.path].sha if s.path in current else None, s.reason)
                    for s in skipped])


def skipped(q: Query) -> tuple[Skipped, ...]:
    return tuple(Skipped(p, r) for p, r in q("SELECT path, reason FROM skipped ORDER BY path"))


def documents(q: Query) -> list[DocumentRecord]:
    return [DocumentRecord(*r) for r in q(
        "SELECT f.path, f.sha, c.pages, c.chunks, f.size, f.indexed_at FROM files f "
        "JOIN contents c ON c.sha = f.sha ORDER BY f.path")]


def bookkeeping(q: Query) -> Bookkeeping:
    try:
        stamps = {p: (size, mtime) for p, size, mtime in
                  q("SELECT path, size, mtime_ns FROM files WHERE mtime_ns > 0")}
    except sqlite3.OperationalError:  # read-only and written before mtime_ns existed
        stamps = {}
    return Bookkeeping(files=dict(q("SELECT path, sha FROM files")),
                       contents=frozenset(r[0] for r in q("SELECT sha FROM contents")),
                       bad=dict(q("SELECT sha, reason FROM skipped WHERE sha IS NOT NULL")),
                       stamps=stamps,
                       rebuild_pending=bool(q("SELECT 1 FROM meta WHERE key = "
                                              "'rebuild_pending'")))


def parse_generation(raw: str) -> int:
    """A stored generation as a number: a value that is not one is a damaged index, said in
    one line (it was a ValueError's traceback from every command). Not even a full rebuild
    can trust such a file (the writer's clean-up reads the generation), so the way out is a
    new index folder."""
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise IndexCorruptError(f"the index's bookkeeping is damaged (its generation is "
                                f"{raw!r}, not a number); move the index folder away and run "
                                "'docchat index' to build it anew") from None
