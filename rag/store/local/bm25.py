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
           params: BM25Params) -> dict[int, float]:
    """The ``n`` best chunk ids for query ``terms`` (a term may repeat) with their scores."""
    if not terms or n <= 0:
        return {}
    n_docs = sum(int(live.sum()) for _, live in segments)
    if n_docs == 0:
        return {}
    total_len = sum(int(seg.doclen[live].sum()) for seg, live in segments)
    avgdl = total_len / n_docs
    postings = [[seg.postings(t) for t in terms] for seg, _ in segments]
    df = np.zeros(len(terms), np.int64)
    for (seg, live), per_term in zip(segments, postings):
        for j, (docs, _) in enumerate(per_term):
            df[j] += int(live[docs].sum())
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    ids_l, score_l = [], []
    for (seg, live), per_term in zip(segments, postings):
        if not any(len(d) for d, _ in per_term):
            continue
        scores = np.zeros(len(seg), np.float64)
        norm = params.k1 * (1.0 - params.b + params.b * seg.doclen / avgdl)
        for j, (docs, tf) in enumerate(per_term):
            if len(docs):
                scores[docs] += idf[j] * tf / (tf + norm[docs])
        scores[~live] = 0.0
        hit = np.flatnonzero(scores > 0)
        if len(hit) > n:
            hit = hit[np.argpartition(-scores[hit], n - 1)[:n]]
        ids_l.append(np.asarray(seg.ids)[hit])
        score_l.append(scores[hit])
    return top_n(ids_l, score_l, n)
