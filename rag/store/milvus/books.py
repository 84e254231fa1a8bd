"""docchat's own bookkeeping for a Milvus index, in a small SQLite database (WAL).

Milvus holds the chunks (text, offsets, provenance, dense vector, BM25 sparse vector); this
database holds what the builder plans against and what pages show: files, contents, pages,
skipped files, the manifest, and the publish point of a commit: ``meta.generation`` (with the
collection name and the tombstoned contents). Why SQLite rather than a second collection:
the builder's plan needs multi-row atomic changes (files, contents, manifest and generation
together), which SQLite gives in one transaction and Milvus cannot (no multi-row
transactions); a reader's whole snapshot is one SQLite read transaction.
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
CREATE TABLE IF NOT EXISTS contents(sha TEXT PRIMARY KEY, pages INTEGER, chunks INTEGER,
                                    first_id INTEGER);
CREATE TABLE IF NOT EXISTS pages(sha TEXT, page INTEGER, label TEXT, text TEXT,
                                 structure TEXT, PRIMARY KEY(sha, page));
CREATE TABLE IF NOT EXISTS skipped(path TEXT PRIMARY KEY, sha TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS tombstones(sha TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS dropped(collection TEXT PRIMARY KEY);
"""


def connect_writer(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    return db


def get_meta(db: sqlite3.Connection, key: str, default: str = "") -> str:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # no schema yet
        return default
    return row[0] if row else default


def set_meta(db: sqlite3.Connection, key: str, value) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
               (key, value if isinstance(value, str) else json.dumps(value)))


def generation(db: sqlite3.Connection) -> int:
    """The committed generation (0: none yet); IndexCorruptError when it is not a number."""
    return sqlbooks.parse_generation(get_meta(db, "generation", "0"))


def structure_json(structure) -> str:
    return json.dumps([list(s) for s in structure]) if structure else ""


def structure_of(text: str | None) -> tuple[tuple[int, int, int], ...]:
    return tuple(tuple(s) for s in json.loads(text)) if text else ()
