"""Retrieval metrics are computed right, and the hybrid retriever clears the quality bar."""
from __future__ import annotations

import math

import pytest
from conftest import SHARED_EVAL, need_shared

from rag import Settings
from rag.evaluation import ndcg_at, recall_at, run_beir, run_squad

def test_ndcg_rewards_relevant_documents_ranked_early():
    rel = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], rel, 10) == pytest.approx(1.0)
    assert ndcg_at(["c", "a", "b"], rel, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["c", "d"], rel, 10) == 0.0


def test_recall_counts_relevant_documents_within_the_cutoff():
    assert recall_at(["x", "a", "y", "b"], {"a": 1, "b": 1}, 2) == 0.5
    assert recall_at(["x", "a", "y", "b"], {"a": 1, "b": 1}, 100) == 1.0


@pytest.mark.slow
def test_scifact_hybrid_retrieval_end_to_end_on_a_subset():
    """The real pipeline (files, index, hybrid search) on 100 SciFact test queries over their
    relevant abstracts plus 1,000 others: a fifth of the corpus, so `make test` embeds ~2,500
    chunks instead of ~12,000. The full-corpus figure (0.734, vs published MiniLM 0.645 and
    BM25 0.687) is `make eval`'s, in docs/quality.md. On this subset hybrid measured nDCG@10
    0.833 / recall@100 0.99; dense only 0.784 / 0.98 and BM25 only 0.713 / 0.92 (so a broken
    fusion fails the bounds below)."""
    r = run_beir(need_shared(SHARED_EVAL / "beir_scifact"), Settings.from_env(), limit=100,
                 distractors=1000)
    assert r["queries"] == 100 and r["documents"] > 1000
    assert r["ndcg@10"] >= 0.80, r
    assert r["recall@100"] >= 0.97, r


@pytest.mark.slow
def test_squad_eval_reports_every_figure_in_range():
    squad = need_shared(SHARED_EVAL / "squad2" / "dev-v2.0.json")
    r = run_squad(squad, Settings.from_env(), limit=60)
    for key in ("hit@1", "hit@5", "answer_contains_gold", "abstention_recall",
                "citation_precision", "median_seconds"):
        assert r[key] is not None and r[key] >= 0, key
    assert r["questions"] == 60
    assert r["hit@5"] >= r["hit@1"] >= 0.5
    assert r["citation_precision"] >= 0.9
