"""The index directory: SQLite metadata + FAISS vectors + BM25 + manifest, swapped atomically.

Layout::

    INDEX/CURRENT          name of the live generation, replaced atomically (os.replace)
    INDEX/gen-000007/      manifest.json, meta.sqlite, vectors.faiss, bm25/, bm25_ids.npy
    INDEX/.lock            held by the one writer (fcntl)

A writer builds the next generation in a temporary folder, renames it into place, then points
CURRENT at it. A build killed at any moment leaves CURRENT on the previous, complete
generation; readers only ever open a generation CURRENT names.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError

FORMAT_VERSION = 1
CURRENT = "CURRENT"
SCHEMA = """
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, sha TEXT NOT NULL, size INTEGER,
                                 indexed_at TEXT);
CREATE TABLE IF NOT EXISTS contents(sha TEXT PRIMARY KEY, pages INTEGER, chunks INTEGER);
CREATE TABLE IF NOT EXISTS pages(sha TEXT, page INTEGER, label TEXT, text TEXT,
                                 PRIMARY KEY(sha, page));
CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, sha TEXT NOT NULL, page INTEGER,
                                  start INTEGER, "end" INTEGER, label TEXT, text TEXT,
                                  context TEXT DEFAULT '', structure TEXT DEFAULT '');
CREATE INDEX IF NOT EXISTS chunks_sha ON chunks(sha);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha);
CREATE TABLE IF NOT EXISTS skipped(path TEXT PRIMARY KEY, sha TEXT, reason TEXT);
"""


def current_generation(root: Path) -> Path | None:
    """The live generation folder, or None when no index has been built at ``root``."""
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    gen = root / name
    if not name.startswith("gen-") or not gen.is_dir():
        raise IndexCorruptError(f"{root}: CURRENT names {name!r}, which is missing")
    return gen


def next_generation_name(root: Path) -> str:
    nums = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(nums, default=0) + 1:06d}"


def publish(root: Path, tmp: Path, name: str) -> Path:
    """Make the fully written ``tmp`` the live generation ``name``; then drop old ones."""
    final = root / name
    _fsync_tree(tmp)
    os.replace(tmp, final)
    pointer = root / (CURRENT + ".tmp")
    with open(pointer, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, root / CURRENT)
    _fsync_dir(root)
    cleanup(root, keep=(name,))
    return final


def cleanup(root: Path, keep: tuple[str, ...]) -> None:
    """Remove unfinished temporary builds and generations older than the previous one."""
    gens = sorted(p.name for p in root.glob("gen-*") if p.name[4:].isdigit())
    keep_set = set(keep) | set(gens[-2:])  # the previous generation stays for open readers
    for p in root.iterdir():
        if p.name.startswith(".build-") or (p.name.startswith("gen-") and p.name not in keep_set):
            shutil.rmtree(p, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Snapshot:
    """A read-only view of one generation: metadata, vectors, BM25. Thread-safe for reading."""

    def __init__(self, gen: Path) -> None:
        self.path = gen
        try:
            self.manifest = json.loads((gen / "manifest.json").read_text())
            self.db = sqlite3.connect(f"file:{gen / 'meta.sqlite'}?mode=ro", uri=True,
                                      check_same_thread=False)
            self.db.execute("SELECT count(*) FROM chunks").fetchone()
        except (OSError, ValueError, sqlite3.Error) as e:
            raise IndexCorruptError(f"{gen}: cannot read the index ({e}); "
                                    "rebuild it with 'docchat index --full'") from e
        self._lock = threading.Lock()
        self._faiss = None
        self._bm25 = None
        self._bm25_ids: np.ndarray | None = None

    @classmethod
    def open(cls, root: Path) -> "Snapshot":
        gen = current_generation(root)
        if gen is None:
            raise IndexNotFoundError(f"no index at {root}: build one with 'docchat index'")
        return cls(gen)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    @property
    def faiss(self):
        with self._lock:
            if self._faiss is None:
                import faiss

                self._faiss = faiss.read_index(str(self.path / "vectors.faiss"))
            return self._faiss

    def bm25(self):
        with self._lock:
            if self._bm25 is None:
                import bm25s

                if (self.path / "bm25_ids.npy").exists():
                    self._bm25 = bm25s.BM25.load(str(self.path / "bm25"), show_progress=False)
                    self._bm25_ids = np.load(self.path / "bm25_ids.npy")
                else:
                    self._bm25_ids = np.zeros(0, dtype=np.int64)
            return self._bm25, self._bm25_ids

    def close(self) -> None:
        with self._lock:
            self.db.close()


def create_db(path: Path, source: Path | None) -> sqlite3.Connection:
    """A writable database for a new generation, starting as a copy of ``source`` if given."""
    db = sqlite3.connect(path)
    if source is not None:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            src.backup(db)
        finally:
            src.close()
    db.executescript(SCHEMA)
    have = {r[1] for r in db.execute("PRAGMA table_info(chunks)")}
    for column in ("context", "structure"):  # a generation written before they existed
        if column not in have:
            db.execute(f"ALTER TABLE chunks ADD COLUMN {column} TEXT DEFAULT ''")
    return db


def save_bm25(gen: Path, ids: list[int], texts: list[str]) -> None:
    if not texts:
        return
    import bm25s

    from rag.lexical import tokenize

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import

    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)
    retriever.save(str(gen / "bm25"), show_progress=False)
    np.save(gen / "bm25_ids.npy", np.asarray(ids, dtype=np.int64))
