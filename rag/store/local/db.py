"""The SQLite side of the embedded store: schema, connections, and every query it runs.

SQLite is the truth and the publish point: a segment folder counts only once a committed
transaction lists it in ``segments``. WAL mode lets readers keep reading their snapshot
(an open read transaction) while the one writer commits; ``synchronous=FULL`` makes a
returned commit durable.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rag.store import sqlbooks

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, sha TEXT NOT NULL, size INTEGER,
                                 indexed_at TEXT, mtime_ns INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha);
CREATE TABLE IF NOT EXISTS contents(sha TEXT PRIMARY KEY, pages INTEGER, chunks INTEGER);
CREATE TABLE IF NOT EXISTS pages(sha TEXT, page INTEGER, label TEXT, text TEXT,
                                 structure TEXT, PRIMARY KEY(sha, page));
CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, sha TEXT NOT NULL, page INTEGER,
                                  start INTEGER, "end" INTEGER, label TEXT, text TEXT,
                                  context TEXT, structure TEXT);
CREATE INDEX IF NOT EXISTS chunks_sha ON chunks(sha);
CREATE TABLE IF NOT EXISTS skipped(path TEXT PRIMARY KEY, sha TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS segments(name TEXT PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones(id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS retired(name TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""


#: Seconds a writing connection waits for another's transaction (a commit of a large build holds
#: SQLite's write lock for a while; the writer and a merger each wait for the other).
BUSY_SECONDS = 3600.0


def connect_writer(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                         timeout=BUSY_SECONDS)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    if "mtime_ns" not in {r[1] for r in db.execute("PRAGMA table_info(files)")}:
        # an index written before files kept their modification time: 0 = "read it again"
        db.execute("ALTER TABLE files ADD COLUMN mtime_ns INTEGER NOT NULL DEFAULT 0")
    return db


def get_meta(db: sqlite3.Connection, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(db: sqlite3.Connection, key: str, value) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
               (key, value if isinstance(value, str) else json.dumps(value)))


def allocate_segment(db: sqlite3.Connection, root: Path) -> str:
    """A segment name nobody else will use: the writer and a merger each take theirs in a short
    transaction of its own (a name left on disk by a killed run is skipped)."""
    from rag.store.local.layout import TMP_SUFFIX, segment_name

    db.execute("BEGIN IMMEDIATE")
    try:
        number = int(get_meta(db, "next_segment", "1"))
        while (root / segment_name(number)).exists() or \
                (root / (segment_name(number) + TMP_SUFFIX)).exists():
            number += 1
        set_meta(db, "next_segment", str(number + 1))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return segment_name(number)


def generation(db: sqlite3.Connection) -> int:
    """The committed generation (0: none yet); IndexCorruptError when it is not a number."""
    try:
        raw = get_meta(db, "generation", "0")
    except sqlite3.OperationalError:  # no schema yet
        return 0
    return sqlbooks.parse_generation(raw)


def structure_json(structure) -> str:
    return json.dumps([list(s) for s in structure]) if structure else ""


def structure_of(text: str | None) -> tuple[tuple[int, int, int], ...]:
    return tuple(tuple(s) for s in json.loads(text)) if text else ()
