"""An immutable segment, write side: a new segment from a commit's chunks, or one merged
from older segments' live rows, in the file format segment.py reads (described there).

Split from segment.py (issue 17): readers never write, and the writer and the merger never
search; the two halves share only the file names.
"""
from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.store.local.segment import HNSW_FILE, Segment


@dataclass(frozen=True)
class AnnSettings:
    min_vectors: int  # a merged segment at least this large gets an HNSW graph
    m: int
    ef_construction: int
    ef_search: int


def write(path: Path, ids: np.ndarray, vectors: np.ndarray,
          tokens: Iterable[Sequence[str]]) -> None:
    """Write a segment for chunks ``ids`` (ascending) from their vectors and lexical tokens.

    ``tokens`` is consumed one chunk at a time and postings are kept in compact typed arrays
    (4-8 bytes each, not Python objects), so a million-chunk commit holds the postings once,
    not a Python list and a Counter per chunk."""
    index: dict[str, int] = {}  # term -> id in first-seen order (sorted at the end)
    term_a, doc_a, tf_a, len_a = array("q"), array("i"), array("i"), array("i")
    for row, toks in enumerate(tokens):
        len_a.append(len(toks))
        for t, f in Counter(toks).items():
            j = index.get(t)
            if j is None:
                j = index[t] = len(index)
            term_a.append(j)
            doc_a.append(row)
            tf_a.append(f)
    vocab = sorted(index)
    rank = np.empty(len(index), np.int64)  # first-seen id -> sorted id
    rank[np.asarray([index[t] for t in vocab], np.int64)] = np.arange(len(vocab))
    del index
    terms = rank[np.frombuffer(term_a, np.int64)] if len(term_a) else np.zeros(0, np.int64)
    del term_a
    _write_arrays(path, np.asarray(ids, np.int64), vectors, np.frombuffer(len_a, np.int32),
                  vocab, terms, np.frombuffer(doc_a, np.int32), np.frombuffer(tf_a, np.int32))


def merge(path: Path, sources: Sequence[tuple[Segment, np.ndarray]], dim: int,
          ann: AnnSettings | None) -> int:
    """Write one segment holding the live rows of ``sources`` (segment, live mask), ids kept
    ascending. Tombstoned rows are dropped. Returns the merged segment's size."""
    sources = sorted(sources, key=lambda s: int(s[0].ids[0]) if len(s[0]) else 0)
    vocab = sorted(set().union(*(s.vocab for s, _ in sources)))
    index = {t: i for i, t in enumerate(vocab)}
    ids_l, vec_l, len_l, term_l, doc_l, tf_l = [], [], [], [], [], []
    offset = 0
    for seg, live in sources:
        remap = np.cumsum(live) - 1 + offset  # new row of each live old row
        ids_l.append(np.asarray(seg.ids)[live])
        vec_l.append(np.asarray(seg.vectors)[live])
        len_l.append(seg.doclen[live])
        tmap = np.asarray([index[t] for t in seg.vocab], np.int64)
        terms = np.repeat(tmap, np.diff(np.asarray(seg.indptr)))
        docs = np.asarray(seg.docs)
        keep = live[docs]
        term_l.append(terms[keep])
        doc_l.append(remap[docs[keep]].astype(np.int32))
        tf_l.append(np.asarray(seg.tf)[keep])
        offset += int(live.sum())
    vectors = np.concatenate(vec_l) if vec_l else np.zeros((0, dim), np.float32)
    _write_arrays(path, np.concatenate(ids_l), vectors, np.concatenate(len_l), vocab,
                  np.concatenate(term_l), np.concatenate(doc_l), np.concatenate(tf_l))
    if ann is not None and offset >= ann.min_vectors:
        write_hnsw(path, vectors, ann)
    return offset


def _write_arrays(path: Path, ids, vectors, doclen, vocab, terms, docs, tf) -> None:
    path.mkdir(parents=True)
    order = np.lexsort((docs, terms))
    indptr = np.zeros(len(vocab) + 1, np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocab)), out=indptr[1:])
    np.save(path / "ids.npy", ids)
    np.save(path / "vectors.npy", np.ascontiguousarray(vectors, np.float32))
    np.save(path / "doclen.npy", doclen.astype(np.int32))
    np.save(path / "indptr.npy", indptr)
    np.save(path / "docs.npy", docs[order].astype(np.int32))
    np.save(path / "tf.npy", tf[order].astype(np.int32))
    (path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")


def write_hnsw(path: Path, vectors: np.ndarray, ann: AnnSettings) -> None:
    """An HNSW graph over 8-bit scalar-quantised copies of the vectors (a quarter of their
    size: the graph's storage is what a query process keeps touching); searches re-rank its
    candidates exactly with ``vectors.npy``."""
    import faiss

    index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, ann.m,
                              faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ann.ef_construction
    x = np.ascontiguousarray(vectors, np.float32)
    index.train(x)
    index.add(x)
    faiss.write_index(index, str(path / HNSW_FILE))
