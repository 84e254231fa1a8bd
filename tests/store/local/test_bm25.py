"""BM25 over segments (rag/store/local/bm25.py), on real segment folders written by the real
segment writer from real sentences (the seed article's and a project report's): the scores are Lucene's BM25 as bm25s
computes it over the same corpus, whatever the segmenting; tombstoned rows are out of the
statistics; a scope narrows the ranking, never the statistics."""
from __future__ import annotations

import bm25s
import numpy as np
import pytest
from conftest import ROOT

from rag.lexical import words
from rag.sentences import split_sentences
from rag.store.local.bm25 import BM25Params, search
from rag.store.local.segment import Segment
from rag.store.local.segment_write import write

TEXTS = [ROOT / "seeds" / "crocus-city-hall-attack.txt", ROOT / "tests" / "data" / "own_set" /
         "office_report.md"]
DOCS = [words(s) for t in TEXTS for s in split_sentences(t.read_text(encoding="utf-8"))]
IDS = [100 + 3 * i for i in range(len(DOCS))]  # ascending, not row numbers
PARAMS = BM25Params(k1=1.5, b=0.75)  # the settings' defaults
QUERIES = [["moscow"], words("attack in Moscow by gunmen"), words("Russia Russia security"),
           words("Bristol scanners delivery"), words("steering committee budget"),
           words("training staff at Leeds")]


def segments(tmp_path, cuts: list[int]) -> list[tuple[Segment, np.ndarray]]:
    """The corpus written as segments split before each row in ``cuts``, all rows live."""
    out = []
    bounds = [0, *cuts, len(DOCS)]
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        path = tmp_path / f"seg-{len(cuts)}-{k}"
        write(path, np.asarray(IDS[a:b]), np.zeros((b - a, 4), np.float32), DOCS[a:b])
        out.append((Segment(path), np.ones(b - a, bool)))
    return out


def reference(docs: list[list[str]], ids: list[int], query: list[str], params=PARAMS
              ) -> dict[int, float]:
    """bm25s's Lucene BM25 of ``query`` over ``docs``: every chunk that scores."""
    r = bm25s.BM25(k1=params.k1, b=params.b, method="lucene")
    r.index(docs, show_progress=False)
    scores = r.get_scores(query)
    return {i: float(s) for i, s in zip(ids, scores) if s > 0}


def assert_same(got: dict[int, float], want: dict[int, float]) -> None:
    assert set(got) == set(want)
    for i in want:
        assert got[i] == pytest.approx(want[i], rel=1e-5), i


def test_the_corpus_is_real_and_queries_hit_several_chunks():
    assert len(DOCS) >= 40
    assert all(len(reference(DOCS, IDS, q)) >= 2 for q in QUERIES[1:])


@pytest.mark.parametrize("params", [PARAMS, BM25Params(k1=1.2, b=0.3)])
def test_scores_are_lucene_bm25_as_bm25s_computes_them(tmp_path, params):
    segs = segments(tmp_path, [])
    for q in QUERIES:  # a repeated query term counts each time, as in bm25s
        assert_same(search(segs, q, 1000, params), reference(DOCS, IDS, q, params))


def test_scores_do_not_depend_on_how_the_corpus_is_split_into_segments(tmp_path):
    n = len(DOCS)
    splits = [[], [n // 2], [1, 2, n - 1], list(range(3, n, 4))]
    written = [segments(tmp_path / str(k), cuts) for k, cuts in enumerate(splits)]
    for q in QUERIES:
        want = reference(DOCS, IDS, q)
        for segs in written:
            assert_same(search(segs, q, 1000, PARAMS), want)


def test_tombstoned_rows_are_never_found_and_leave_the_statistics(tmp_path):
    segs = segments(tmp_path, [5, 30])
    dead = {0, 6, 7, 31, 44}  # rows in every segment
    masked, row = [], 0
    for seg, live in segs:
        live = np.array([row + k not in dead for k in range(len(seg))])
        masked.append((seg, live))
        row += len(seg)
    alive = [k for k in range(len(DOCS)) if k not in dead]
    for q in QUERIES:
        want = reference([DOCS[k] for k in alive], [IDS[k] for k in alive], q)
        got = search(masked, q, 1000, PARAMS)
        assert not set(got) & {IDS[k] for k in dead}
        assert_same(got, want)
    # the same Segment objects with every row live again: nothing stale is kept
    assert_same(search(segs, QUERIES[1], 1000, PARAMS), reference(DOCS, IDS, QUERIES[1]))


def test_a_scope_narrows_the_ranking_but_not_the_statistics(tmp_path):
    segs = segments(tmp_path, [8, 30])
    allowed_rows = {1, 2, 3, 9, 10, 11, 25}  # the last segment has none
    scope, row = [], 0
    for seg, _ in segs:
        scope.append(np.array([row + k in allowed_rows for k in range(len(seg))]))
        row += len(seg)
    allowed = {IDS[k] for k in allowed_rows}
    for q in QUERIES:
        everything = search(segs, q, 1000, PARAMS)
        assert search(segs, q, 1000, PARAMS, scope) == \
            {i: s for i, s in everything.items() if i in allowed}


def test_n_keeps_the_best_and_empty_cases_find_nothing(tmp_path):
    segs = segments(tmp_path, [7, 20])
    q = QUERIES[1]
    ranked = sorted(reference(DOCS, IDS, q).items(), key=lambda kv: -kv[1])
    assert ranked[2][1] > ranked[3][1]  # a clear top three
    assert set(search(segs, q, 3, PARAMS)) == {i for i, _ in ranked[:3]}
    assert search(segs, q, 0, PARAMS) == {}
    assert search(segs, [], 10, PARAMS) == {}
    assert search(segs, ["zzzunknownterm"], 10, PARAMS) == {}
    all_dead = [(seg, np.zeros(len(seg), bool)) for seg, _ in segs]
    assert search(all_dead, q, 10, PARAMS) == {}
    assert search([], q, 10, PARAMS) == {}
