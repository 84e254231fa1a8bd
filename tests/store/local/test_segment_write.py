"""Writing an immutable segment (rag/store/local/segment_write.py): a new segment from chunks,
or one merged from older segments' live rows, read back by segment.py exactly as written;
a merge drops the tombstoned rows and their postings, keeps ids ascending, and gets an HNSW
graph only from its size up. Small random vectors and hand-made token lists."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rag.store.local.segment import HNSW_FILE, Segment
from rag.store.local.segment_write import AnnSettings, merge, write

DIM = 8
TOKENS = [["river", "bridge", "river"], ["café", "bridge"], [],
          ["日本", "river", "river", "river"], ["falcon"]]


def unit(rng, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def postings(seg: Segment) -> dict[str, list[tuple[int, int]]]:
    """term -> [(id, tf)] as the segment holds them."""
    out = {}
    for term in seg.vocab:
        rows, tf = seg.postings(term)
        out[term] = [(int(seg.ids[r]), int(f)) for r, f in zip(rows, tf)]
    return out


def expected(ids, tokens) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for i, toks in zip(ids, tokens):
        for term, f in Counter(toks).items():
            out.setdefault(term, []).append((int(i), f))
    return {t: sorted(p) for t, p in out.items()}


def test_a_written_segment_reads_back_its_ids_vectors_lengths_and_postings(tmp_path):
    rng = np.random.default_rng(1)
    ids, vecs = np.asarray([3, 7, 8, 20, 21], np.int64), unit(rng, 5)
    write(tmp_path / "seg", ids, vecs, iter(TOKENS))  # tokens may be a one-pass iterator
    seg = Segment(tmp_path / "seg")
    assert np.array_equal(seg.ids, ids) and seg.ids.dtype == np.int64
    assert np.array_equal(seg.vectors, vecs) and seg.vectors.dtype == np.float32
    assert list(seg.doclen) == [3, 2, 0, 4, 1]
    assert seg.vocab == sorted({t for toks in TOKENS for t in toks})  # non-ASCII terms too
    assert postings(seg) == expected(ids, TOKENS)
    assert seg.hnsw is None and not (tmp_path / "seg" / HNSW_FILE).exists()


def test_an_empty_segment_is_written_and_reads_as_empty(tmp_path):
    write(tmp_path / "seg", np.zeros(0, np.int64), np.zeros((0, DIM), np.float32), [])
    seg = Segment(tmp_path / "seg")
    assert len(seg) == 0 and seg.vocab == [] and seg.vectors.shape == (0, DIM)
    assert list(seg.rows(np.asarray([1, 2]))) == [-1, -1]
    rows, scores = seg.search_dense(np.ones(DIM, np.float32), 5, np.zeros(0, bool))
    assert len(rows) == len(scores) == 0


def test_a_segment_folder_is_never_written_over(tmp_path):
    """Segments are immutable: writing to a name that exists fails instead of mixing files."""
    rng = np.random.default_rng(2)
    write(tmp_path / "seg", np.asarray([1]), unit(rng, 1), [["a"]])
    with pytest.raises(FileExistsError):
        write(tmp_path / "seg", np.asarray([2]), unit(rng, 1), [["b"]])
    assert list(Segment(tmp_path / "seg").ids) == [1]


def sources(tmp_path, rng):
    """Two segments (given newest first) and their live masks: ids 10..12 and 1..3."""
    a_ids, b_ids = np.asarray([10, 11, 12]), np.asarray([1, 2, 3])
    a_tok = [["river", "dead"], ["bridge"], ["river", "falcon"]]
    b_tok = [["canal"], ["river", "river"], ["dead", "dead"]]
    a_vec, b_vec = unit(rng, 3), unit(rng, 3)
    write(tmp_path / "a", a_ids, a_vec, a_tok)
    write(tmp_path / "b", b_ids, b_vec, b_tok)
    a, b = Segment(tmp_path / "a"), Segment(tmp_path / "b")
    a_live, b_live = np.asarray([False, True, True]), np.asarray([True, True, False])
    return ([(a, a_live), (b, b_live)],
            np.concatenate([b_ids[b_live], a_ids[a_live]]),
            np.concatenate([b_vec[b_live], a_vec[a_live]]),
            [t for t, k in zip(b_tok, b_live) if k] + [t for t, k in zip(a_tok, a_live) if k])


def test_a_merge_keeps_the_live_rows_in_id_order_and_drops_the_dead_ones(tmp_path):
    srcs, ids, vecs, tokens = sources(tmp_path, np.random.default_rng(3))
    n = merge(tmp_path / "m", srcs, DIM, None)
    seg = Segment(tmp_path / "m")
    assert n == len(seg) == 4
    assert list(seg.ids) == [1, 2, 11, 12] == list(ids)
    assert np.array_equal(seg.vectors, vecs)
    assert list(seg.doclen) == [len(t) for t in tokens]
    # no posting of a dead row: "dead" was only in tombstoned rows
    assert {t: p for t, p in postings(seg).items() if p} == expected(ids, tokens)
    assert seg.postings("dead")[0].size == 0
    # the merged segment answers as one written from the live rows directly
    write(tmp_path / "direct", ids, vecs, tokens)
    direct = Segment(tmp_path / "direct")
    q = unit(np.random.default_rng(4), 1)[0]
    got = seg.search_dense(q, 3, np.ones(4, bool))
    want = direct.search_dense(q, 3, np.ones(4, bool))
    assert list(got[0]) == list(want[0]) and np.allclose(got[1], want[1])


def test_a_merge_of_only_dead_rows_is_empty(tmp_path):
    srcs, *_ = sources(tmp_path, np.random.default_rng(5))
    srcs = [(s, np.zeros(len(s), bool)) for s, _ in srcs]
    assert merge(tmp_path / "m", srcs, DIM, None) == 0
    seg = Segment(tmp_path / "m")
    assert len(seg) == 0 and seg.vectors.shape == (0, DIM)
    assert all(seg.postings(t)[0].size == 0 for t in seg.vocab)


@pytest.mark.parametrize("min_vectors,graph", [(4, True), (5, False)])
def test_a_merge_gets_a_graph_only_from_the_minimum_size_up(tmp_path, min_vectors, graph):
    pytest.importorskip("faiss")
    srcs, ids, vecs, _ = sources(tmp_path, np.random.default_rng(6))
    merge(tmp_path / "m", srcs, DIM, AnnSettings(min_vectors, 4, 8, 8))
    seg = Segment(tmp_path / "m")
    assert (seg.hnsw is not None) == graph
    q = vecs[2]
    rows, scores = seg.search_dense(q, 1, np.ones(len(seg), bool))
    assert int(seg.ids[rows[0]]) == ids[2] and scores[0] == pytest.approx(1.0, abs=1e-5)
