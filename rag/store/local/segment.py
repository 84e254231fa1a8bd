"""An immutable segment, read side: the vectors and lexical postings of a set of chunks, written
once (by segment_write.py) and memory-mapped here.

Files (numpy arrays are memory-mapped by readers)::

    ids.npy      int64 (n,)      chunk ids, ascending
    vectors.npy  float32 (n, d)  normalised embeddings
    doclen.npy   int32 (n,)      tokens per chunk (BM25 length)
    vocab.txt    sorted terms, one a line
    indptr.npy   int64 (V+1,)    CSR: postings of term t are [indptr[t], indptr[t+1])
    docs.npy     int32 (P,)      row (position in ids) of each posting, ascending per term
    tf.npy       int32 (P,)      term frequency of each posting
    hnsw.faiss   optional        an HNSW graph over the vectors (large merged segments)

Deletes never touch a segment: they are tombstones in SQLite, applied as a live mask.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np


log = logging.getLogger(__name__)
HNSW_FILE = "hnsw.faiss"
#: An HNSW search asks the graph for this many times the hits wanted (at least RERANK_MIN) and
#: keeps the best by exact inner product.
RERANK, RERANK_MIN = 3, 64
#: A search limited to at most this many rows of a segment (a scope, or a segment mostly
#: deleted) scores them exactly (one matrix-vector product, about 150 MB of vectors at most)
#: instead of asking the graph, whose filtered search loses recall when few rows are allowed.
SUBSET_EXACT = 100_000
#: Rows in more runs than this are gathered through the map in one step (then the map's
#: pages are dropped from the process, as the file reads below keep them out) instead of
#: one read per run: a 10% scope of a 100,000-row segment is about 3,700 runs, and a read
#: each made a scoped search 3x slower than an unscoped one (issue 21).
MAPPED_RUNS = 64
#: Above this many allowed rows of a flat segment, a scoped search first scans the whole
#: segment keeping OVERFETCH times as many results as the scope's share calls for (as fast
#: as an unscoped search); it falls back to the exact subset when too few are in the scope.
SMALL_SUBSET, OVERFETCH = 2_000, 4


class Segment:
    """A read-only open segment. Opening maps every file, so that a writer removing the folder
    later (after a merge) cannot pull it from under a reader that already holds it."""

    def __init__(self, path: Path, ef_search: int = 64) -> None:
        self.path = path
        self.name = path.name
        self.ids = np.load(path / "ids.npy", mmap_mode="r")
        self.vectors = np.load(path / "vectors.npy", mmap_mode="r")
        self.doclen = np.load(path / "doclen.npy")
        self.indptr = np.load(path / "indptr.npy", mmap_mode="r")
        self.docs = np.load(path / "docs.npy", mmap_mode="r")
        self.tf = np.load(path / "tf.npy", mmap_mode="r")
        text = (path / "vocab.txt").read_text(encoding="utf-8")
        self.vocab = text.split("\n") if text else []
        self.term_index = {t: i for i, t in enumerate(self.vocab)}
        self.ef_search = ef_search
        self.hnsw = None
        self._fd = -1
        if (path / HNSW_FILE).exists():
            import faiss

            # the graph's copy of the vectors is memory-mapped, not read into RAM
            flag = getattr(faiss, "IO_FLAG_MMAP_IFC", 0)
            self.hnsw = faiss.read_index(str(path / HNSW_FILE), flag)
            # re-ranking reads a few hundred rows of vectors.npy per query with pread, not
            # through the map: a mapped row brings its neighbours (fault-around) into the
            # process, and within a hundred queries the whole file was resident (1 GB at a
            # million); read, the pages stay in the page cache, outside the process
            self._fd = os.open(path / "vectors.npy", os.O_RDONLY)

    def __len__(self) -> int:
        return len(self.ids)

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1

    def read_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` (ascending), read from the file rather than the map."""
        if self._fd < 0:
            return np.asarray(self.vectors[rows])
        d = self.vectors.shape[1]
        size, base = 4 * d, self.vectors.offset
        rows = np.asarray(rows, np.int64)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        if len(breaks) >= MAPPED_RUNS:
            return self._gather_mapped(rows)
        buf = bytearray(len(rows) * size)
        view = memoryview(buf)
        # one read per run of consecutive rows (a document's chunks are consecutive: a scope
        # of whole documents reads a few long runs, not one row at a time)
        at = 0
        for run in np.split(rows, breaks) if len(rows) else []:
            first, count = int(run[0]), len(run)
            view[at * size:(at + count) * size] = os.pread(self._fd, count * size,
                                                           base + first * size)
            at += count
        return np.frombuffer(buf, np.float32).reshape(len(rows), d)

    def _gather_mapped(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of many scattered ``rows`` (ascending) copied out of the map in one
        step; the map's pages of their range are then dropped from the process (MADV_DONTNEED:
        they stay in the page cache), so that it never holds the file resident."""
        import mmap

        out = np.asarray(self.vectors[rows])
        raw = getattr(self.vectors, "_mmap", None)
        if raw is not None and hasattr(mmap, "MADV_DONTNEED") and len(rows):
            size, base = 4 * self.vectors.shape[1], self.vectors.offset
            first = (base + int(rows[0]) * size) // mmap.PAGESIZE * mmap.PAGESIZE
            end = min(base + (int(rows[-1]) + 1) * size, len(raw))
            try:
                raw.madvise(mmap.MADV_DONTNEED, first, end - first)
            except (OSError, ValueError):  # an advice, never a failure
                pass
        return out

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in this segment (-1 for an id it does not hold)."""
        if len(self.ids) == 0:
            return np.full(len(ids), -1, np.int64)
        pos = np.clip(np.searchsorted(self.ids, ids), 0, len(self.ids) - 1)
        return np.where(np.asarray(self.ids)[pos] == ids, pos, -1)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        t = self.term_index.get(term)
        if t is None:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        a, b = int(self.indptr[t]), int(self.indptr[t + 1])
        return np.asarray(self.docs[a:b]), np.asarray(self.tf[a:b])

    def search_dense(self, q: np.ndarray, n: int, live: np.ndarray) -> tuple[np.ndarray,
                                                                            np.ndarray]:
        """(rows, scores) of the ``n`` best live rows by inner product."""
        if len(self) == 0 or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        n_live = int(live.sum())
        if n_live == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if n_live <= len(self) // 2 and self.hnsw is None and n_live > SMALL_SUBSET:
            found = self._search_overfetched(q, n, live, n_live)
            if found is not None:
                return found
        if n_live <= len(self) // 2 and n_live <= SUBSET_EXACT:
            return self._search_rows(q, n, np.flatnonzero(live))
        if self.hnsw is not None:
            return self._search_hnsw(q, n, live)
        # an exact scan by faiss (numpy's BLAS matvec can be 100x slower on a busy machine when
        # it spreads over threads); tombstoned rows are over-fetched, then dropped
        import faiss

        want = min(len(self), n + (len(self) - n_live))
        scores, rows = faiss.knn(q.reshape(1, -1), self.vectors, want,
                                 metric=faiss.METRIC_INNER_PRODUCT)
        rows, scores = rows[0], scores[0]
        keep = (rows >= 0) & live[np.maximum(rows, 0)]
        return rows[keep][:n].astype(np.int64), scores[keep][:n]

    def _search_overfetched(self, q, n, live, n_live):
        """A scan of the whole segment keeping OVERFETCH times the share of rows that are not
        allowed: when at least ``n`` allowed rows are among them, they are the exact top ``n``
        of the allowed rows (every allowed row left out scores below all of them); else None.
        One scan, as an unscoped search, instead of copying a large subset's vectors."""
        import faiss

        want = min(len(self), int(n * len(self) / n_live * OVERFETCH) + n)
        scores, rows = faiss.knn(q.reshape(1, -1), self.vectors, want,
                                 metric=faiss.METRIC_INNER_PRODUCT)
        rows, scores = rows[0], scores[0]
        keep = (rows >= 0) & live[np.maximum(rows, 0)]
        if int(keep.sum()) < min(n, n_live):
            return None
        return rows[keep][:n].astype(np.int64), scores[keep][:n]

    def _search_rows(self, q, n, rows):
        """Exact inner products over ``rows`` only: a scope (or a segment mostly deleted)
        leaves few rows, and a graph search filtered down to them would miss some."""
        scores = self.read_vectors(rows) @ q
        if len(rows) > n:
            best = np.argpartition(-scores, n - 1)[:n]
            rows, scores = rows[best], scores[best]
        order = np.argsort(-scores, kind="stable")
        return rows[order].astype(np.int64), scores[order].astype(np.float32)

    def _search_hnsw(self, q, n, live):
        """The graph (over 8-bit codes) proposes ``RERANK`` times the candidates asked for;
        their exact inner products, from ``vectors.npy``, decide the ``n`` returned."""
        import faiss

        dead = np.flatnonzero(~live).astype(np.int64)
        want = min(len(self), max(RERANK * n, RERANK_MIN))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, want)
        if len(dead):
            params.sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(dead))
        _, rows = self.hnsw.search(q.reshape(1, -1).astype(np.float32), want, params=params)
        rows = np.sort(rows[0][rows[0] >= 0]).astype(np.int64)
        exact = self.read_vectors(rows) @ q
        best = np.argsort(-exact, kind="stable")[:n]
        return rows[best], exact[best]


def top_n(ids: list[np.ndarray], scores: list[np.ndarray], n: int) -> dict[int, float]:
    """The ``n`` best (chunk id -> score) over per-segment results (id and score arrays)."""
    if not ids:
        return {}
    all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
    if len(all_ids) > n:
        top = np.argpartition(-all_scores, n - 1)[:n]
        all_ids, all_scores = all_ids[top], all_scores[top]
    return {int(i): float(s) for i, s in zip(all_ids, all_scores)}
