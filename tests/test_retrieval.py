"""rag/retrieval.py on its own: the two fusions, the query a follow-up searches with, and the
collapse of passages that overlap or repeat a better one (the index-level behaviour is in
tests/test_index.py and the store's contract)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rag import retrieval
from rag.types import Fusion, Hit

DENSE = {1: 0.9, 2: 0.7, 3: 0.5}
SPARSE = {3: 12.0, 4: 6.0, 1: 3.0}


def test_convex_fusion_normalises_each_list_and_weighs_them():
    fused = retrieval.fuse(DENSE, SPARSE, 0.5)
    assert set(fused) == {1, 2, 3, 4}
    assert all(0.0 <= v <= 1.0 for v in fused.values())
    # 1: best dense (1.0), worst BM25 (0.0); 3: worst dense (0.0), best BM25 (1.0)
    assert fused[1] == pytest.approx(0.5) and fused[3] == pytest.approx(0.5)
    assert fused[4] == pytest.approx(0.5 * (6 - 3) / (12 - 3))  # missing from dense: 0 there
    only_dense = retrieval.fuse(DENSE, SPARSE, 1.0)
    assert sorted(only_dense, key=only_dense.get, reverse=True)[:3] == [1, 2, 3]
    assert retrieval.fuse({}, {}, 0.5) == {}
    assert retrieval.fuse({7: 0.3}, {}, 0.5) == {7: 0.5}  # one candidate: normalised to 1


def test_reciprocal_rank_fusion_uses_ranks_not_scores():
    fused = retrieval.rrf(DENSE, SPARSE, 60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 63)  # rank 1 dense, rank 3 BM25
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    scaled = retrieval.rrf({k: v * 1000 for k, v in DENSE.items()}, SPARSE, 60)
    assert scaled == fused  # only the order within each list matters
    assert Fusion("rrf") is Fusion.RRF and f"{Fusion.RRF}" == "rrf"


def test_a_follow_up_searches_with_its_recent_turns():
    history = ["Where is the hall?", "  ", "Who attacked it?"]
    assert retrieval.recent_turns(history, 1) == ["Who attacked it?"]
    assert retrieval.retrieval_query("How many died?", history, 2) == \
        "How many died? Where is the hall? Who attacked it?"
    assert retrieval.retrieval_query("How many died?", history, 0) == "How many died?"


def test_the_query_vector_leans_towards_the_recent_turns_and_stays_unit():
    from fakes import HashEmbedder

    emb = HashEmbedder(dim=32)
    alone = retrieval.query_vector(emb, "How many died?", [], 2)
    assert np.allclose(alone, emb.encode(["How many died?"])[0], atol=1e-6)
    follow = retrieval.query_vector(emb, "How many died?", ["Who attacked it?"], 2)
    turn = emb.encode(["Who attacked it?"])[0]
    assert np.linalg.norm(follow) == pytest.approx(1.0, abs=1e-5)
    assert float(follow @ turn) > float(alone @ turn)


def _hit(cid, start, end, page=1, path="a.pdf"):
    return Hit(chunk_id=cid, path=path, page=page, start=start, end=end, text="t" * (end - start),
               score=1.0 - cid / 10)


def test_collapse_drops_overlapping_and_repeated_passages_keeping_the_better():
    vecs = {1: [1, 0, 0], 2: [0, 1, 0], 3: [0.999, 0.0447, 0], 4: [0, 0, 1], 5: [0, 0.7071, 0.7071]}
    snap = SimpleNamespace(vectors=lambda ids: np.asarray([vecs[i] for i in ids], np.float32))
    hits = [_hit(1, 0, 100), _hit(2, 60, 160),  # 2 shares 40 of its 100 chars with 1: kept
            _hit(3, 500, 600, page=2),  # another page, but says what 1 says: dropped
            _hit(4, 10, 90),  # inside 1 on the same page: dropped
            _hit(5, 10, 90, path="b.pdf")]  # the same span of another file: kept
    kept = retrieval.collapse(snap, hits, k=5)
    assert [h.chunk_id for h in kept] == [1, 2, 5]
    assert [h.chunk_id for h in retrieval.collapse(snap, hits, k=2)] == [1, 2]
