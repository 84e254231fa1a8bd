"""The answer-shape figures of `docchat eval qa`: heading-only answers, verbatim sentences."""
from __future__ import annotations

from rag.evaluation.answer_rows import answer_shape
from rag.types import Answer, Sentence, Source

TEXT = "Snow White and the Huntsman\n\nThe film was\ndirected by Rupert Sanders. It cost a lot."


def answer(*sentences: Sentence) -> Answer:
    src = Source(n=1, path="/f.txt", page=1, start=0, end=len(TEXT), text=TEXT, score=1.0)
    return Answer(question="q", answer="a", abstained=False, sentences=sentences,
                  sources=(src,))


def test_a_title_alone_is_a_heading_only_answer_and_prose_is_not():
    title = answer(Sentence("Snow White and the Huntsman", (1,)))
    prose = answer(Sentence("The film was directed by Rupert Sanders.", (1,)),
                   Sentence("Snow White and the Huntsman", (1,)))
    abstained = Answer(question="q", answer="none", abstained=True)
    assert answer_shape([title, prose, abstained])["heading_only_answers"] == 0.5


def test_sentences_are_verbatim_only_when_every_cited_source_holds_them():
    got = answer_shape([answer(Sentence("The film was directed by Rupert Sanders.", (1,)),
                               Sentence("The film was directed by someone.", (1,)),
                               Sentence("It cost a lot.", ()))])
    assert got["sentences_verbatim"] == round(1 / 3, 4)


def test_a_run_without_any_answer_given_has_no_shape_figures():
    abstained = Answer(question="q", answer="none", abstained=True)
    assert answer_shape([]) == answer_shape([abstained]) == {
        "heading_only_answers": None, "sentences_verbatim": None}


def test_a_sentence_citing_two_sources_is_verbatim_only_if_both_hold_it():
    other = Source(n=2, path="/g.txt", page=1, start=0, end=9, text="Elsewhere", score=0.5)
    both = Answer(question="q", answer="a", abstained=False, sources=(answer().sources[0], other),
                  sentences=(Sentence("It cost a lot.", (1, 2)), Sentence("It cost a lot.", (1,))))
    assert answer_shape([both])["sentences_verbatim"] == 0.5
