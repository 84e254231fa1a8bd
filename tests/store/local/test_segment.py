"""Reading one immutable segment (rag/store/local/segment.py): what segment_write.py wrote comes
back as it was (ids, vectors, postings), ids map to rows, and a dense search over a live mask
(tombstones, a scope) is the exact top n of the rows it allows, flat or with an HNSW graph."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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
