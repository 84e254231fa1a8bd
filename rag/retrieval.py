"""Hybrid retrieval over a store Reader: dense + BM25, fused, de-duplicated, history-aware."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from rag.history import recent
from rag.settings import Settings
from rag.store import Reader, Scope
from rag.types import Fusion, Hit

log = logging.getLogger(__name__)
HISTORY_WEIGHT = 0.5  # how much the recent turns pull the query vector
DUPLICATE_COSINE = 0.95  # chunks this similar say the same thing: keep the better one
OVERLAP_SHARE = 0.5  # chunks of one page sharing more than this of their span are one passage


def recent_turns(history: Sequence[str], turns: int) -> list[str]:
    """The last ``turns`` non-empty user turns, oldest first (none for ``turns <= 0``)."""
    return recent([h for h in history if h.strip()], turns)


def retrieval_query(question: str, history: Sequence[str], turns: int) -> str:
    """The text BM25 searches with: the question, then the last ``turns`` user turns."""
    return " ".join([question, *recent_turns(history, turns)])


def query_vector(embedder, question: str, history: Sequence[str], turns: int) -> np.ndarray:
    recent = recent_turns(history, turns)
    vecs = embedder.encode([question, " ".join(recent)] if recent else [question])
    q = vecs[0] + (HISTORY_WEIGHT * vecs[1] if recent else 0)
    return (q / max(np.linalg.norm(q), 1e-9)).astype(np.float32)


def dense(snap: Reader, qvec: np.ndarray, n: int, scope: Scope | None = None
          ) -> dict[int, float]:
    return snap.search_dense(qvec, n, scope)


def sparse(snap: Reader, text: str, n: int, scope: Scope | None = None) -> dict[int, float]:
    return snap.search_lexical(text, n, scope)


def fuse(d: dict[int, float], s: dict[int, float], weight: float) -> dict[int, float]:
    """Convex combination of min-max normalised scores (a candidate missing from one list
    gets 0 there). Tuned on SciFact *train* queries; see docs/retrieval.md."""
    def norm(x: dict[int, float]) -> dict[int, float]:
        if not x:
            return {}
        lo, hi = min(x.values()), max(x.values())
        return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in x.items()}

    nd, ns = norm(d), norm(s)
    return {k: weight * nd.get(k, 0.0) + (1 - weight) * ns.get(k, 0.0) for k in set(nd) | set(ns)}


def rrf(d: dict[int, float], s: dict[int, float], k: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for ranked in (d, s):
        for rank, cid in enumerate(sorted(ranked, key=ranked.get, reverse=True)):
            out[cid] = out.get(cid, 0.0) + 1.0 / (k + rank + 1)
    return out


def search(snap: Reader, embedder, question: str, k: int, settings: Settings,
           history: Sequence[str] = (), fusion: Fusion = Fusion.CONVEX, scope: Scope | None = None
           ) -> list[Hit]:
    """The ``k`` best passages for ``question`` (and the recent turns), best first; with
    ``scope``, the ``k`` best of those contents (filtered inside each search)."""
    qvec = query_vector(embedder, question, history, settings.history_turns)
    d = dense(snap, qvec, settings.fetch_k, scope)
    s = sparse(snap, retrieval_query(question, history, settings.history_turns),
               settings.fetch_k, scope)
    fused = rrf(d, s, settings.rrf_k) if fusion == Fusion.RRF else fuse(d, s, settings.dense_weight)
    order = sorted(fused, key=lambda c: (-fused[c], c))
    hits = fetch_hits(snap, order[: max(k * 4, k + 10)], fused, d, s)
    return collapse(snap, hits, k)


def fetch_hits(snap: Reader, ids: list[int], fused: dict[int, float], d: dict[int, float],
               s: dict[int, float]) -> list[Hit]:
    if not ids:
        return []
    return [Hit(chunk_id=r.id, path=r.path, page=r.page, start=r.start, end=r.end, text=r.text,
                score=round(fused[r.id], 6), label=r.label, dense=round(d.get(r.id, 0.0), 6),
                sparse=round(s.get(r.id, 0.0), 6), context=r.context, structure=r.structure)
            for r in snap.chunks(ids)]


def collapse(snap: Reader, hits: list[Hit], k: int) -> list[Hit]:
    """Drop passages that overlap a better one on the same page, or that say the same thing."""
    vecs = snap.vectors([h.chunk_id for h in hits])
    sims = vecs @ vecs.T if vecs is not None else None
    kept: list[int] = []
    by_page: dict[tuple[str, int], list[Hit]] = {}
    for i, h in enumerate(hits):
        if any(_overlaps(h, o) for o in by_page.get((h.path, h.page), ())):
            continue
        if sims is not None and kept and float(sims[i, kept].max()) > DUPLICATE_COSINE:
            continue
        kept.append(i)
        by_page.setdefault((h.path, h.page), []).append(h)
        if len(kept) == k:
            break
    return [hits[i] for i in kept]


def _overlaps(a: Hit, b: Hit) -> bool:
    if a.path != b.path or a.page != b.page:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared > OVERLAP_SHARE * min(a.end - a.start, b.end - b.start)
