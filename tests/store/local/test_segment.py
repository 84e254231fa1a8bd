"""Reading one immutable segment (rag/store/local/segment.py): ids map to rows, a dense search
over a live mask (tombstones, a scope) is the exact top n of the rows it allows, flat or with an
HNSW graph, an open segment keeps answering after its folder is removed, and per-segment results
combine into the best n. (Written then read back: test_segment_write.py.)"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.store.local.segment import Segment, top_n
from rag.store.local.segment_write import AnnSettings, write, write_hnsw

DIM = 16


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (/proc/self/smaps)."""
    kb, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split()[0]:  # a mapping's header line
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            kb += int(line.split()[1])
    return kb


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_scattered_scoped_rows_are_exact_and_leave_no_vectors_resident(tmp_path):
    """A scope of many scattered rows (issue 21: a 10% scope is thousands of runs) is
    gathered through the map in one step, then the map's pages are dropped: the scores are
    exact and the vectors file does not stay resident in the process (the reason the graph's
    segments read their vectors with pread)."""
    from rag.store.local import segment
    from rag.store.local.segment import Segment
    from rag.store.local.segment_write import AnnSettings, write, write_hnsw

    rng = np.random.default_rng(3)
    n_rows, dim = 30000, 64
    vecs = rng.standard_normal((n_rows, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    write(tmp_path / "seg", np.arange(n_rows, dtype=np.int64), vecs, [["w"]] * n_rows)
    write_hnsw(tmp_path / "seg", vecs, AnnSettings(1, 8, 16, 16))
    seg = Segment(tmp_path / "seg")
    size_kb = (tmp_path / "seg" / "vectors.npy").stat().st_size // 1024
    for _ in range(30):
        rows = np.sort(rng.choice(n_rows, 3000, replace=False))
        assert len(np.flatnonzero(np.diff(rows) != 1)) >= segment.MAPPED_RUNS
        assert np.array_equal(seg.read_vectors(rows), vecs[rows])
    assert _mapped_kb(tmp_path / "seg" / "vectors.npy") < 0.1 * size_kb


@pytest.mark.parametrize("graph", [False, True], ids=["flat", "hnsw"])
@pytest.mark.parametrize("share", [0.002, 0.2, 0.45, "far"])
def test_a_scoped_dense_search_is_exact_whatever_the_scopes_size(tmp_path, share, graph):
    """A scope (a row mask) on a flat segment: small ones are scored exactly row by row,
    larger ones by one scan that keeps enough results (falling back to the exact subset when
    too few of them are in the scope). Either way: the exact top n of the allowed rows."""
    from rag.store.local.segment import Segment
    from rag.store.local.segment_write import write

    rng = np.random.default_rng(5)
    n_rows, dim = 20000, 32
    vecs = rng.standard_normal((n_rows, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    write(tmp_path / "seg", np.arange(n_rows, dtype=np.int64), vecs, [["w"]] * n_rows)
    if graph:  # an HNSW segment: subsets are read with pread (runs of consecutive rows)
        from rag.store.local.segment_write import AnnSettings, write_hnsw

        write_hnsw(tmp_path / "seg", vecs, AnnSettings(1, 16, 40, 64))
    seg = Segment(tmp_path / "seg")
    assert (seg.hnsw is not None) == graph
    for trial in range(5):
        q = vecs[rng.integers(n_rows)] + 0.3 * rng.standard_normal(dim).astype(np.float32)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        live = np.zeros(n_rows, bool)
        if share == "far":  # the scope is the 5,000 rows least like the question: the scan's
            live[np.argsort(vecs @ q)[:5000]] = True  # kept results hold none of them
        else:
            live[rng.choice(n_rows, int(n_rows * share), replace=False)] = True
        rows, scores = seg.search_dense(q, 10, live)
        allowed = np.flatnonzero(live)
        exact = allowed[np.argsort(-(vecs[allowed] @ q), kind="stable")[:10]]
        assert list(rows) == list(exact), (share, trial)
        assert np.allclose(scores, vecs[rows] @ q, atol=1e-5)


def small(tmp_path, n: int = 200, graph: bool = False, seed: int = 0):
    """A segment of ``n`` random unit vectors under ids 1000, 1002, ... (not row numbers)."""
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = 1000 + 2 * np.arange(n, dtype=np.int64)
    write(tmp_path / "seg", ids, vecs, [[f"w{i % 7}"] * (1 + i % 3) for i in range(n)])
    if graph:
        pytest.importorskip("faiss")
        write_hnsw(tmp_path / "seg", vecs, AnnSettings(1, 8, 40, 64))
    return Segment(tmp_path / "seg"), ids, vecs


def test_ids_map_to_their_rows_and_unknown_ids_to_minus_one(tmp_path):
    seg, ids, _ = small(tmp_path, 10)
    asked = np.asarray([1000, 1018, 1001, 999, 5000, 1004], np.int64)
    assert list(seg.rows(asked)) == [0, 9, -1, -1, -1, 2]


def test_an_unknown_term_has_no_postings(tmp_path):
    seg, _, _ = small(tmp_path, 10)
    rows, tf = seg.postings("never-seen")
    assert rows.size == tf.size == 0
    rows, tf = seg.postings("w3")
    assert list(rows) == [3] and list(tf) == [1 + 3 % 3]


@pytest.mark.parametrize("graph", [False, True], ids=["flat", "hnsw"])
def test_a_tombstoned_row_is_never_returned_even_when_it_is_the_best(tmp_path, graph):
    seg, ids, vecs = small(tmp_path, graph=graph)
    q = vecs[17]
    live = np.ones(len(seg), bool)
    rows, scores = seg.search_dense(q, 5, live)
    assert rows[0] == 17 and scores[0] == pytest.approx(1.0, abs=1e-3)
    live[17] = False
    rows, scores = seg.search_dense(q, 5, live)
    assert 17 not in rows and len(rows) == 5
    exact = np.flatnonzero(live)[np.argsort(-(vecs[live] @ q), kind="stable")[:5]]
    assert list(rows) == list(exact)
    assert list(scores) == sorted(scores, reverse=True)
    assert np.allclose(scores, vecs[rows] @ q, atol=1e-5)


def test_asking_for_more_than_is_live_returns_every_live_row_and_nothing_else(tmp_path):
    seg, _, vecs = small(tmp_path, 12)
    live = np.zeros(12, bool)
    live[[2, 5, 11]] = True
    rows, _ = seg.search_dense(vecs[0], 50, live)
    assert sorted(rows) == [2, 5, 11]
    assert seg.search_dense(vecs[0], 5, np.zeros(12, bool))[0].size == 0
    assert seg.search_dense(vecs[0], 0, np.ones(12, bool))[0].size == 0


def test_an_open_segment_keeps_answering_after_its_folder_is_removed(tmp_path):
    """A merge retires segments and a later writer removes their folders: a reader that
    already opened one keeps its answers (its files are mapped when it opens)."""
    seg, _, vecs = small(tmp_path, graph=True)
    live = np.ones(len(seg), bool)
    before = seg.search_dense(vecs[3], 5, live)
    postings = seg.postings("w2")
    shutil.rmtree(tmp_path / "seg")
    after = seg.search_dense(vecs[3], 5, live)
    assert list(after[0]) == list(before[0]) and np.allclose(after[1], before[1])
    assert [list(a) for a in seg.postings("w2")] == [list(a) for a in postings]
    assert np.array_equal(seg.read_vectors(np.asarray([0, 1, 2, 9])), vecs[[0, 1, 2, 9]])


def test_vectors_read_by_runs_of_rows_are_those_written(tmp_path):
    seg, _, vecs = small(tmp_path, graph=True)  # a graph's segment reads with pread
    for rows in ([0], [5, 6, 7, 40, 41, 199], list(range(50, 120)), []):
        rows = np.asarray(rows, np.int64)
        got = seg.read_vectors(rows)
        assert got.shape == (len(rows), DIM) and np.array_equal(got, vecs[rows])


def test_the_best_n_over_segments_are_kept_by_score():
    ids = [np.asarray([1, 2, 3]), np.asarray([10, 11]), np.zeros(0, np.int64)]
    scores = [np.asarray([0.9, 0.1, 0.5]), np.asarray([0.7, 0.95]), np.zeros(0)]
    assert top_n(ids, scores, 3) == pytest.approx({11: 0.95, 1: 0.9, 10: 0.7})
    assert top_n(ids, scores, 10) == pytest.approx(
        {1: 0.9, 2: 0.1, 3: 0.5, 10: 0.7, 11: 0.95})
    assert top_n([], [], 5) == {}
