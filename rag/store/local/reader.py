"""A consistent snapshot of the embedded store.

Consistency: the reader opens one SQLite read transaction and keeps it for its lifetime, so
every query it makes (chunks, pages, files, the segment list, the tombstones) sees the same
committed state, whatever the writer commits meanwhile (WAL). The segments it lists are
immutable. A merge retires its source segments but their folders are removed only by a later
writer, after a further commit (see writer.py), and a reader maps each segment's files when it
first searches: on Linux a mapped or open file stays readable after it is unlinked.
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
from rag.store.local import bm25, db as dbmod
from rag.store.local.layout import DB
from rag.store import sqlbooks
from rag.store.local.segment import Segment, top_n
from rag.store.protocol import (Bookkeeping, ChunkRecord, DocumentRecord, Manifest, Scope, Stats,
                                StoredContent)
from rag.types import Chunk, Page, Skipped

SCOPES_KEPT = 8  # scopes whose per-segment row masks a reader keeps


class LocalReader:
    def __init__(self, root: Path, params: bm25.BM25Params, ef_search: int) -> None:
        self.root = root
        self._params = params
        self._ef_search = ef_search
        if not (root / DB).exists():
            raise IndexNotFoundError(f"no index at {root}: build one with 'docchat index'")
        try:
            self.db = sqlbooks.connect_reader(root / DB)
            self.db.execute("BEGIN")  # the snapshot: one read transaction for our lifetime
            self.generation = dbmod.generation(self.db)
            if self.generation == 0:
                raise IndexNotFoundError(f"no index at {root}: build one with 'docchat index'")
            self.manifest = Manifest.from_json(json.loads(dbmod.get_meta(self.db, "manifest")))
            self._stats = json.loads(dbmod.get_meta(self.db, "stats", "{}"))
            listed = self.db.execute("SELECT name, rows FROM segments ORDER BY name").fetchall()
            self._segment_names = [r[0] for r in listed]
            self._segment_rows = sum(r[1] for r in listed)
            self._tombstones = np.asarray(
                [r[0] for r in self.db.execute("SELECT id FROM tombstones ORDER BY id")],
                np.int64)
        except (OSError, ValueError, KeyError, sqlite3.Error) as e:
            raise IndexCorruptError(f"{root}: cannot read the index ({e}); rebuild it with "
                                    "'docchat index --full'") from e
        self._lock = threading.Lock()
        self._scopes: dict[Scope, list[np.ndarray]] = {}
        self._segments: list[tuple[Segment, np.ndarray]] | None = None

    # -- segments ---------------------------------------------------------------------------
    def segments(self) -> list[tuple[Segment, np.ndarray]]:
        """The snapshot's segments with their live masks (opened on first use)."""
        with self._lock:
            if self._segments is None:
                out = []
                for name in self._segment_names:
                    try:
                        seg = Segment(self.root / name, self._ef_search)
                    except FileNotFoundError as e:
                        raise IndexCorruptError(f"{self.root}: segment {name} is missing ({e})")
                    live = np.ones(len(seg), bool)
                    rows = seg.rows(self._tombstones)
                    live[rows[rows >= 0]] = False
                    out.append((seg, live))
                self._segments = out
            return self._segments

    def search_dense(self, vec: np.ndarray, n: int, scope: Scope | None = None
                     ) -> dict[int, float]:
        q = np.asarray(vec, np.float32).reshape(-1)
        ids_l, sc_l = [], []
        for (seg, live), allowed in zip(self.segments(), self._scope_masks(scope)):
            rows, scores = seg.search_dense(q, n, live if allowed is None else live & allowed)
            ids_l.append(np.asarray(seg.ids)[rows])
            sc_l.append(scores)
        return top_n(ids_l, sc_l, n)

    def search_lexical(self, text: str, n: int, scope: Scope | None = None
                       ) -> dict[int, float]:
        return bm25.search(self.segments(), words(text), n, self._params,
                           self._scope_masks(scope))

    def _scope_masks(self, scope: Scope | None) -> list[np.ndarray | None]:
        """Per segment, the rows of the scope's chunks (None: no scope). The last few scopes
        are kept: a conversation asks many questions of one scope."""
        segments = self.segments()
        if scope is None:
            return [None] * len(segments)
        with self._lock:
            hit = self._scopes.get(scope)
        if hit is not None:
            return hit
        shas = sorted(scope.shas)
        ids: list[int] = []
        for at in range(0, len(shas), 500):
            part = shas[at:at + 500]
            ids += [r[0] for r in self._q(
                f"SELECT id FROM chunks WHERE sha IN ({','.join('?' * len(part))})",
                tuple(part))]
        want = np.asarray(sorted(ids), np.int64)
        masks = []
        for seg, _ in segments:
            rows = seg.rows(want) if len(want) else np.zeros(0, np.int64)
            mask = np.zeros(len(seg), bool)
            mask[rows[rows >= 0]] = True
            masks.append(mask)
        with self._lock:
            if len(self._scopes) >= SCOPES_KEPT:
                self._scopes.pop(next(iter(self._scopes)))
            self._scopes[scope] = masks
        return masks

    def vectors(self, ids: Sequence[int]) -> np.ndarray | None:
        want = np.asarray(ids, np.int64)
        if not len(want):
            return None
        out = np.zeros((len(want), self.manifest.dim), np.float32)
        found = np.zeros(len(want), bool)
        for seg, _ in self.segments():
            rows = seg.rows(want)
            hit = rows >= 0
            out[hit] = seg.vectors[rows[hit]]
            found |= hit
        return out if found.all() else None

    # -- SQLite -----------------------------------------------------------------------------
    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._q(
            'SELECT c.id, (SELECT min(path) FROM files f WHERE f.sha = c.sha), c.page, c.start, '
            'c."end", c.text, c.label, c.context, c.structure FROM chunks c '
            f"WHERE c.id IN ({marks})", tuple(int(i) for i in ids))
        by_id = {r[0]: ChunkRecord(id=r[0], path=r[1], page=r[2], start=r[3], end=r[4],
                                   text=r[5], label=r[6] or "", context=r[7] or "",
                                   structure=dbmod.structure_of(r[8])) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def page_text(self, path: str, page: int) -> str:
        rows = self._q("SELECT p.text FROM pages p JOIN files f ON f.sha = p.sha "
                       "WHERE f.path = ? AND p.page = ?", (path, page))
        return rows[0][0] if rows else ""

    def stats(self) -> Stats:
        return Stats(files=int(self._stats.get("files", 0)),
                     chunks=int(self._stats.get("chunks", 0)),
                     built_at=self._stats.get("built_at", ""), generation=self.generation,
                     segments=len(self._segment_names),
                     vectors=self._segment_rows - len(self._tombstones),
                     deleted=len(self._tombstones))

    def count_chunks(self) -> int:
        """Chunks as SQLite holds them (a consistency check against ``stats().vectors``)."""
        return self._q("SELECT count(*) FROM chunks")[0][0]

    def skipped(self) -> tuple[Skipped, ...]:
        return sqlbooks.skipped(self._q)

    def documents(self) -> list[DocumentRecord]:
        return sqlbooks.documents(self._q)

    def bookkeeping(self) -> Bookkeeping:
        return sqlbooks.bookkeeping(self._q)

    def content(self, sha: str) -> StoredContent:
        """One content's pages, chunks and vectors in chunk-id order (for export)."""
        if not self._q("SELECT 1 FROM contents WHERE sha = ?", (sha,)):
            raise KeyError(sha)
        pages = tuple(Page(path="", page=p, text=t, label=lb or "",
                           structure=dbmod.structure_of(st)) for p, lb, t, st in self._q(
            "SELECT page, label, text, structure FROM pages WHERE sha = ? ORDER BY page", (sha,)))
        rows = self._q('SELECT id, page, start, "end", text, label, context, structure '
                       "FROM chunks WHERE sha = ? ORDER BY id", (sha,))
        chunks = tuple(Chunk(page=r[1], start=r[2], end=r[3], text=r[4], label=r[5] or "",
                             context=r[6] or "", structure=dbmod.structure_of(r[7]))
                       for r in rows)
        vecs = self.vectors([r[0] for r in rows]) if rows else None
        if rows and vecs is None:
            raise IndexCorruptError(f"{self.root}: content {sha[:12]} lacks vectors")
        return StoredContent(sha, pages, chunks, vecs if vecs is not None
                             else np.zeros((0, self.manifest.dim), np.float32),
                             tuple(r[0] for r in rows))

    def close(self) -> None:
        with self._lock:
            self.db.close()

