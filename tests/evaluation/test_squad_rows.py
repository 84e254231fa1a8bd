"""The figures of `docchat eval qa` (rag/evaluation/squad_rows.py): SQuAD's normalisation and
token F1, the strict citation check, and every figure of a small run worked out by hand."""
from __future__ import annotations

import pytest

from rag.evaluation.squad_rows import (abstained_by, citation_ok, normalise, score_answers,
                                       span_scores, token_f1)
from rag.types import Abstention, Answer, AnswerSpan, Sentence, Source


def src(n: int, pid: str, text: str, score: float) -> Source:
    return Source(n=n, path=f"/squad/{pid}.txt", page=1, start=0, end=len(text), text=text,
                  score=score)


def said(text: str, cites: tuple[int, ...], span: str = "", supported: bool = True) -> Sentence:
    return Sentence(text, cites, supported, AnswerSpan(span, cites[0], 0, len(span))
                    if span else None)


def answered(*sentences: Sentence, sources: tuple[Source, ...]) -> Answer:
    return Answer(question="q", answer=" ".join(s.text for s in sentences), abstained=False,
                  sentences=sentences, sources=sources)


def abstained(why: Abstention, sources: tuple[Source, ...] = ()) -> Answer:
    return Answer(question="q", answer="The documents do not contain an answer.",
                  abstained=True, sources=sources, abstention=why)


def question(pid: str, *answers: str) -> dict:
    return {"pid": pid, "answers": list(answers), "impossible": not answers}


@pytest.mark.parametrize("text, want", [
    ("The Eiffel Tower!", "eiffel tower"),
    ("An anthem, a theatre & the end", "anthem theatre end"),  # articles only as words
    ("  U.S.  Army ", "us army"),
    ("", ""),
])
def test_normalise_is_squads_answer_normalisation(text, want):
    assert normalise(text) == want


@pytest.mark.parametrize("pred, gold, f1", [
    ("the cat sat", "a cat sat down", 0.8),  # precision 1, recall 2/3
    ("Santa Clara, California", "Santa Clara", 0.8),
    ("the the cat", "cat cat", 2 / 3),  # a word counts as often as both hold it
    ("Denver Broncos", "denver broncos.", 1.0),
    ("Carolina Panthers", "Denver Broncos", 0.0),
    ("", "", 1.0), ("the", "Denver", 0.0),  # nothing left after normalising
])
def test_token_f1_is_squads(pred, gold, f1):
    assert token_f1(pred, gold) == pytest.approx(f1)


@pytest.mark.parametrize("sentence, ok", [
    ("the depot blaze killed 12 workers", True),  # the source's words, case and stop aside
    ("12 workers were killed by the depot blaze", True),  # most words, the same number
    ("13 workers were killed by the depot blaze", False),  # a number the source lacks
    ("Workers at the depot went on strike", False),
])
def test_a_citation_is_ok_when_the_source_holds_the_sentence_and_its_numbers(sentence, ok):
    assert citation_ok(sentence, "The depot blaze killed 12 workers on Monday.") is ok


def test_abstentions_are_shared_out_by_reason_over_all_answers():
    answers = [abstained(Abstention.NO_EVIDENCE), abstained(Abstention.NO_EVIDENCE),
               abstained(Abstention.NOT_IN_PASSAGES),
               answered(said("Yes.", (1,)), sources=(src(1, "p", "Yes.", 1.0),))]
    assert abstained_by("unanswerable", answers) == {
        "unanswerable_abstained_by_evidence": 0.5,
        "unanswerable_abstained_by_answerability": 0.0,
        "unanswerable_abstained_by_reader": 0.25,
        "unanswerable_abstained_by_engine": 0.0}
    assert set(abstained_by("x", []).values()) == {0.0}


def test_span_scores_take_the_best_gold_answer_and_count_abstentions_as_zero():
    page = "The game was played at Levi's Stadium in Santa Clara, California."
    rows = [
        (question("p1", "Levi's Stadium", "Santa Clara"),
         answered(said("It was played in Santa Clara, California.", (1,),
                       span="Santa Clara, California"), sources=(src(1, "p1", page, 1.0),))),
        (question("p1", "Santa Clara"), abstained(Abstention.DOES_NOT_FIT)),
        (question("p1", "Santa Clara"),
         answered(said("It was played in California.", (1,)), sources=(src(1, "p1", page, 1),))),
        (question("p1", "Levi's Stadium"),
         answered(said("The game was played at Levi's Stadium.", (1,), span="Levi's Stadium"),
                  sources=(src(1, "p1", page, 1.0),))),
    ]
    assert span_scores(rows) == {"span_exact_match": 0.25, "span_f1": round(1.8 / 4, 4),
                                 "first_sentence_contains_gold": 0.5}


def test_every_figure_of_a_small_run():
    """Two answerable and two unanswerable questions; the figures worked out by hand."""
    broncos = "The Denver Broncos won Super Bowl 50 in 2016."
    stadium = "The game was played at Levi's Stadium in Santa Clara, California."
    rows = [
        (question("p1", "Denver Broncos"),  # right, cited, retrieved first
         answered(said("The Denver Broncos won Super Bowl 50.", (1,), span="Denver Broncos"),
                  sources=(src(1, "p1", broncos, 0.9), src(2, "p7", "Other text.", 0.5))), 1.0),
        (question("p2", "Santa Clara"),  # gold paragraph second; a paraphrase without gold
         answered(said("It was played in California.", (2,), span="California"),
                  sources=(src(1, "p9", "Something else.", 0.8), src(2, "p2", stadium, 0.7))),
         3.0),
        (question("p3"), abstained(Abstention.NO_EVIDENCE, (src(1, "p3", "Text.", 0.6),)),
         2.0),
        (question("p4"),  # answered although unanswerable, with a number its source lacks
         answered(said("The fee was 13 dollars.", (1,), supported=False),
                  sources=(src(1, "p4", "The fee was 12 dollars.", 0.4),)), 5.0),
    ]
    got = score_answers(rows)
    want = {
        "hit@1": 0.75, "hit@5": 1.0,
        "answer_contains_gold": 0.5, "answer_contains_gold_when_answered": 0.5,
        "answerable_abstained": 0.0, "unanswerable_abstained": 0.5,
        "abstention_precision": 1.0, "abstention_recall": 0.5,
        "citation_precision": 0.6667, "sentences_supported": 0.6667,
        "sentences_verbatim_normalised": 0.3333, "cites_gold_paragraph": 1.0,
        "span_exact_match": 0.5, "span_f1": 0.5, "first_sentence_contains_gold": 0.5,
        "answerable_abstained_by_evidence": 0.0, "unanswerable_abstained_by_evidence": 0.5,
        "unanswerable_abstained_by_reader": 0.0,
        "sentences_per_answer": 1.0, "median_seconds": 2.5,
        "answerable": 2, "unanswerable": 2,
    }
    assert {k: got[k] for k in want} == want


def test_a_run_with_no_answers_reports_none_rather_than_a_made_up_figure():
    got = score_answers([(question("p3"), abstained(Abstention.NO_EVIDENCE), 1.0)])
    assert got["citation_precision"] is None and got["sentences_supported"] is None
    assert got["cites_gold_paragraph"] is None
    assert got["abstention_precision"] == 1.0 and got["unanswerable_abstained"] == 1.0
