"""The embedded store: SQLite (the truth, WAL) + immutable segments of vectors and postings."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rag.errors import DocchatError
from rag.settings import Settings
from rag.store import sqlbooks
from rag.store.local import db as dbmod, merger
from rag.store.local.bm25 import BM25Params
from rag.store.local.layout import DB, segment_dirs, writer_lock
from rag.store.local.reader import LocalReader
from rag.store.local.segment_write import AnnSettings
from rag.store.local.merge_policy import MergePolicy
from rag.store.local.writer import LocalWriter


class LocalStore:
    """The index folder ``root``: readers in any number, one writer at a time (fcntl lock)."""

    def __init__(self, root: str | Path, settings: Settings | None = None) -> None:
        self.root = Path(root)
        s = settings or Settings()
        self._bm25 = BM25Params(s.bm25_k1, s.bm25_b)
        self._ann = AnnSettings(s.ann_min_vectors, s.hnsw_m, s.hnsw_ef_construction,
                                s.hnsw_ef_search)
        self._merges = merger.MergeConfig(
            MergePolicy(s.merge_factor, s.merge_floor, s.merge_deletes), self._ann,
            s.merge_background)
        for name, ok in (("merge_factor", s.merge_factor >= 2), ("merge_floor", s.merge_floor >= 1),
                         ("merge_deletes", 0 < s.merge_deletes <= 1),
                         ("ann_min_vectors", s.ann_min_vectors >= 1),
                         ("hnsw_m", s.hnsw_m >= 2), ("hnsw_ef_search", s.hnsw_ef_search >= 1)):
            if not ok:
                raise DocchatError(f"DOCCHAT_{name.upper()}={getattr(s, name)!r} is out of range")

    def generation(self) -> int:
        """The latest committed generation (0: no index). Cheap: one small query."""
        if not (self.root / DB).exists():
            return 0
        db = sqlbooks.connect_reader(self.root / DB)
        try:
            return dbmod.generation(db)
        finally:
            db.close()

    def exists(self) -> bool:
        return self.generation() > 0

    def unreferenced(self) -> list[str]:
        """Segment folders no committed state lists or keeps for readers (left by a killed
        writer until the next writer starts)."""
        if not (self.root / DB).exists():
            return []
        db = sqlbooks.connect_reader(self.root / DB)
        try:
            known = {r[0] for r in db.execute("SELECT name FROM segments UNION "
                                              "SELECT name FROM retired")}
        finally:
            db.close()
        return sorted(p.name for p in segment_dirs(self.root) if p.name not in known)

    def wait_merges(self) -> None:
        """Block until this process's background merges of this index are done."""
        merger.wait(self.root)

    def reader(self) -> LocalReader:
        return LocalReader(self.root, self._bm25, self._ann.ef_search)

    @contextmanager
    def writer(self) -> Iterator[LocalWriter]:
        with writer_lock(self.root):
            w = LocalWriter(self.root, self._merges)
            try:
                yield w
            finally:
                w.close()
