"""Retrieval metrics are computed right, and the hybrid retriever clears the quality bar."""
from __future__ import annotations

import math

import pytest
from conftest import SHARED_EVAL, need_shared

from rag import Settings
import json

from rag.evaluation.runs import absent_cases, load_squad, ndcg_at, recall_at, run_beir, run_squad

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


def _squad(tmp_path, paragraphs):
    """A SQuAD 2.0 file of one article; ``paragraphs``: (context, [(question, answer or None)])."""
    data = {"data": [{"title": "T", "paragraphs": [
        {"context": c, "qas": [{"id": f"{i}-{j}", "question": q, "is_impossible": a is None,
                                "answers": [] if a is None else [{"text": a}]}
                               for j, (q, a) in enumerate(qas)]}
        for i, (c, qas) in enumerate(paragraphs)]}]}
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    return load_squad(f)


def test_absent_cases_remove_every_sentence_holding_the_answer(tmp_path):
    paragraphs, questions = _squad(tmp_path, [
        ("The bridge opened in 1932. It was built by Dorman Long. The 1932 ceremony was "
         "grand. Traffic grew quickly.",
         [("Who built the bridge?", "Dorman Long"), ("When did it open?", "1932")]),
        ("Ferries crossed the harbour before. Dorman Long also built ships. They were slow.",
         [("What crossed the harbour?", "Ferries"), ("What was never built?", None)]),
    ])
    cases = absent_cases(paragraphs, questions)
    got = {q["question"]: rest for q, rest in cases}
    # "Dorman Long" is also in the second paragraph: the answer would not be absent
    assert "Who built the bridge?" not in got
    # one question per paragraph; both sentences with "1932" are gone, the rest is kept as is
    assert got["When did it open?"] == "It was built by Dorman Long. Traffic grew quickly."
    assert got["What crossed the harbour?"] == "Dorman Long also built ships. They were slow."
    assert all(not q["impossible"] for q, _ in cases)


def test_absent_cases_need_the_paragraph_to_stay_on_topic(tmp_path):
    paragraphs, questions = _squad(tmp_path, [
        ("The bridge opened in 1932. Traffic grew.", [("When did it open?", "1932")])])
    assert absent_cases(paragraphs, questions) == []  # one sentence would be left
