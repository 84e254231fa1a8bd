"""BM25 over segments with corpus-wide statistics.

Document count, average length and each term's document frequency are summed over the live
rows of every segment, so a chunk's score does not depend on how the corpus was split into
segments (tested: one build and ten incremental ones rank and score alike). The formula is
Lucene's (as bm25s's default, which the fusion weights were tuned with):
idf = ln(1 + (N - df + 0.5) / (df + 0.5)),  tf part = tf / (tf + k1 (1 - b + b dl / avgdl)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.store.local.segment import Segment, top_n


@dataclass(frozen=True)
class BM25Params:
    k1: float
    b: float


def search(segments: Sequence[tuple[Segment, np.ndarray]], terms: Sequence[str], n: int,
           params: BM25Params, scope: Sequence[np.ndarray | None] | None = None
           ) -> dict[int, float]:
    """The ``n`` best chunk ids for query ``terms`` (a term may repeat) with their scores;
    with ``scope`` (a row mask per segment) only those rows are ranked, while the corpus
    statistics (N, average length, document frequencies) stay the whole index's."""
    scope = scope if scope is not None else [None] * len(segments)
    if not terms or n <= 0:
        return {}
    live_stats = [_live_stats(seg, live) for seg, live in segments]
    n_docs = sum(count for count, _, _ in live_stats)
    if n_docs == 0:
        return {}
    avgdl = sum(length for _, length, _ in live_stats) / n_docs
    postings = [[seg.postings(t) for t in terms] for seg, _ in segments]
    df = np.zeros(len(terms), np.int64)
    for (seg, live), per_term in zip(segments, postings):
        for j, (docs, _) in enumerate(per_term):
            df[j] += int(live[docs].sum())
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    ids_l, score_l = [], []
    for (seg, live), per_term, (_, _, dead), allowed in zip(segments, postings, live_stats,
                                                             scope):
        if not any(len(d) for d, _ in per_term) or (allowed is not None and not allowed.any()):
            continue
        scores = np.zeros(len(seg), np.float64)
        norm = _norm(seg, avgdl, params)
        for j, (docs, tf) in enumerate(per_term):
            if len(docs):
                scores[docs] += idf[j] * tf / (tf + norm[docs])
        scores[dead] = 0.0
        if allowed is not None:
            scores[~allowed] = 0.0
        hit = np.flatnonzero(scores > 0)
        if len(hit) > n:
            hit = hit[np.argpartition(-scores[hit], n - 1)[:n]]
        ids_l.append(np.asarray(seg.ids)[hit])
        score_l.append(scores[hit])
    return top_n(ids_l, score_l, n)


# A reader's segments and live masks do not change for its lifetime, so what depends only on
# them is computed once per reader, not per query (each is a pass over every row of the
# segment: milliseconds at a million chunks). Kept on the reader's own Segment object.

def _live_stats(seg: Segment, live: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(live rows, their total length, dead rows) of ``seg`` under ``live``."""
    cached = getattr(seg, "_bm25_live", None)
    if cached is None or cached[0] is not live:
        dead = np.flatnonzero(~live)
        total = int(seg.doclen.sum()) - int(seg.doclen[dead].sum())
        cached = (live, len(seg) - len(dead), total, dead)
        seg._bm25_live = cached
    return cached[1], cached[2], cached[3]


def _norm(seg: Segment, avgdl: float, params: BM25Params) -> np.ndarray:
    """k1 (1 - b + b dl / avgdl) for every row of ``seg``."""
    key = (avgdl, params.k1, params.b)
    cached = getattr(seg, "_bm25_norm", None)
    if cached is None or cached[0] != key:
        cached = (key, params.k1 * (1.0 - params.b + params.b * seg.doclen / avgdl))
        seg._bm25_norm = cached
    return cached[1]
