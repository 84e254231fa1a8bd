"""A snapshot of a Milvus index: one SQLite read transaction + a filter on the rows' commit.

What the snapshot guarantees. The bookkeeping (files, contents, pages, manifest, generation,
tombstones) is one SQLite read transaction held for the reader's lifetime, exactly as in the
embedded store. Milvus rows carry the generation that wrote them and every search and query
filters ``gen <= G and sha not in TOMBSTONES``: rows a later (or killed) writer inserted are
never seen. What it does not guarantee (Milvus has no snapshots): rows a LATER commit deletes
disappear from an older reader too (it then finds fewer passages, never wrong ones), and a
reset (full rebuild) drops the old collection, so a reader older than the rebuild fails with a
reason; ``Index.snapshot()`` renews its reader whenever the generation moves on.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.lexical import words
from rag.store import sqlbooks
from rag.store.milvus import books
from rag.store.milvus import collection as col
from rag.store.protocol import (Bookkeeping, ChunkRecord, DocumentRecord, Manifest, Scope,
                                Stats, StoredContent)
from rag.types import Chunk, Page, Skipped


class MilvusReader:
    def __init__(self, client, books_path: Path, where: str) -> None:
        self.client = client
        self.where = where
        if not books_path.exists():
            raise IndexNotFoundError(f"no index in {where}: build one with 'docchat index'")
        try:
            self.db = sqlbooks.connect_reader(books_path)
            self.db.execute("BEGIN")
            self.generation = books.generation(self.db)
            if self.generation == 0:
                raise IndexNotFoundError(f"no index in {where}: build one with 'docchat index'")
            self.manifest = Manifest.from_json(json.loads(books.get_meta(self.db, "manifest")))
            self._stats = json.loads(books.get_meta(self.db, "stats", "{}"))
            self.collection = books.get_meta(self.db, "collection")
            self._tombstones = [r[0] for r in self.db.execute("SELECT sha FROM tombstones")]
        except (ValueError, KeyError, sqlite3.Error) as e:
            raise IndexCorruptError(f"{where}: cannot read the bookkeeping ({e}); rebuild it "
                                    "with 'docchat index --full'") from e
        self._filter = col.visible(self.generation, self._tombstones)
        self._lock = threading.Lock()
        if self.collection:
            with col.errors(f"{where}: cannot load collection {self.collection}"):
                self.client.load_collection(self.collection)

    # -- Milvus -------------------------------------------------------------------------------
    def _search(self, data, field: str, metric: str, n: int, scope: Scope | None) -> list:
        if not self.collection or n <= 0 or (scope is not None and not scope.shas):
            return []
        where = self._filter if scope is None else \
            f"{self._filter} and {col.sha_filter(sorted(scope.shas))}"
        with col.errors(f"{self.where}: search failed"):
            res = self.client.search(self.collection, data=data, anns_field=field,
                                     limit=min(n, col.MAX_TOPK), filter=where,
                                     search_params={"metric_type": metric},
                                     output_fields=["id"], consistency_level=col.CONSISTENCY)
        return list(res[0]) if res else []

    def search_dense(self, vec: np.ndarray, n: int, scope: Scope | None = None
                     ) -> dict[int, float]:
        q = np.asarray(vec, np.float32).reshape(-1).tolist()
        return {int(h["id"]): float(h["distance"])
                for h in self._search([q], "dense", "IP", n, scope)}

    def search_lexical(self, text: str, n: int, scope: Scope | None = None
                       ) -> dict[int, float]:
        if not words(text):
            return {}
        # Milvus returns hits best first; milvus-lite reports BM25 as a negated distance and a
        # server as a positive score, so the magnitude is the score on both
        return {int(h["id"]): abs(float(h["distance"]))
                for h in self._search([text], "sparse", "BM25", n, scope)}

    def _rows(self, ids: Sequence[int], fields: Sequence[str]) -> dict[int, dict]:
        out: dict[int, dict] = {}
        if not self.collection:
            return out
        want = [int(i) for i in ids]
        for at in range(0, len(want), col.QUERY_BATCH):
            part = want[at:at + col.QUERY_BATCH]
            with col.errors(f"{self.where}: query failed"):
                rows = self.client.query(self.collection, filter=col.id_filter(part, self._filter),
                                         output_fields=list(fields), limit=len(part),
                                         consistency_level=col.CONSISTENCY)
            out.update({int(r["id"]): r for r in rows})
        return out

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        if not ids:
            return []
        rows = self._rows(ids, col.CHUNK_FIELDS)
        paths = self._paths({r["sha"] for r in rows.values()})
        return [ChunkRecord(id=i, path=paths[r["sha"]], page=int(r["page"]),
                            start=int(r["start"]), end=int(r["end"]), text=r["text"],
                            label=r["label"] or "", context=r["context"] or "",
                            structure=books.structure_of(r["structure"]))
                for i in ids if (r := rows.get(int(i))) is not None and r["sha"] in paths]

    def vectors(self, ids: Sequence[int]) -> np.ndarray | None:
        if not len(ids):
            return None
        rows = self._rows(ids, ("id", "dense"))
        if len(rows) < len(set(int(i) for i in ids)):
            return None
        return np.asarray([rows[int(i)]["dense"] for i in ids], np.float32)

    # -- SQLite -------------------------------------------------------------------------------
    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def _paths(self, shas: set[str]) -> dict[str, str]:
        """Each content's provenance as of this snapshot: the first path holding it (a rename
        changes it without touching Milvus)."""
        if not shas:
            return {}
        marks = ",".join("?" * len(shas))
        return dict(self._q(f"SELECT sha, min(path) FROM files WHERE sha IN ({marks}) "
                            "AND sha IN (SELECT sha FROM contents) GROUP BY sha", tuple(shas)))

    def page_text(self, path: str, page: int) -> str:
        rows = self._q("SELECT p.text FROM pages p JOIN files f ON f.sha = p.sha "
                       "WHERE f.path = ? AND p.page = ?", (path, page))
        return rows[0][0] if rows else ""

    def stats(self) -> Stats:
        chunks = int(self._stats.get("chunks", 0))
        return Stats(files=int(self._stats.get("files", 0)), chunks=chunks,
                     built_at=self._stats.get("built_at", ""), generation=self.generation,
                     segments=0, vectors=chunks, deleted=0)

    def skipped(self) -> tuple[Skipped, ...]:
        return sqlbooks.skipped(self._q)

    def documents(self) -> list[DocumentRecord]:
        return sqlbooks.documents(self._q)

    def bookkeeping(self) -> Bookkeeping:
        return sqlbooks.bookkeeping(self._q)

    def content(self, sha: str) -> StoredContent:
        """One content's pages, chunks and vectors in chunk-id order (for export)."""
        pages = tuple(Page(path="", page=p, text=t, label=lb or "",
                           structure=books.structure_of(st)) for p, lb, t, st in self._q(
            "SELECT page, label, text, structure FROM pages WHERE sha = ? ORDER BY page", (sha,)))
        got = self._q("SELECT first_id, chunks FROM contents WHERE sha = ?", (sha,))
        if not got:
            raise KeyError(sha)
        first, n = got[0]
        ids = list(range(first, first + n))
        rows = self._rows(ids, col.CHUNK_FIELDS + ("dense",))
        if len(rows) != n:
            raise IndexCorruptError(f"{self.where}: content {sha[:12]} has {len(rows)} of its "
                                    f"{n} chunks in Milvus")
        chunks = tuple(Chunk(page=int(r["page"]), start=int(r["start"]), end=int(r["end"]),
                             text=r["text"], label=r["label"] or "", context=r["context"] or "",
                             structure=books.structure_of(r["structure"]))
                       for r in (rows[i] for i in ids))
        vecs = np.asarray([rows[i]["dense"] for i in ids], np.float32).reshape(n, -1)
        return StoredContent(sha, pages, chunks, vecs, tuple(ids))

    def close(self) -> None:
        with self._lock:
            self.db.close()
