"""The answer checker (or, when it cannot run, the span reader) picks the answer: the
sentence holding the best span comes first, the exact answer is marked inside it, verbatim;
any question length is answered or abstains."""
from __future__ import annotations

import pytest

from rag import ask
from rag.types import Answer

pytestmark = pytest.mark.slow

SEED_QUESTIONS = ["How many people died in the attack?", "Who carried out the attack?",
                  "Where did the attack take place?", "Who was blamed for the attack?",
                  "What did people leave at the site?"]


def spans_are_verbatim(a: Answer) -> None:
    """Invariant: a marked answer lies inside the cited sentence's highlight, and its text is
    the passage's text at its offsets; the cited sentence is verbatim in its passage."""
    by_n = {s.n: s for s in a.sources}
    for s in a.sentences:
        for n in s.citations:
            assert s.text in " ".join(by_n[n].text.split())
        if s.answer is None:
            continue
        src = by_n[s.answer.source]
        assert s.answer.source in s.citations
        assert src.text[s.answer.start - src.start:s.answer.end - src.start] == s.answer.text
        assert any(a0 <= s.answer.start and s.answer.end <= b0 for a0, b0 in src.highlights)
        assert " ".join(s.answer.text.split()) in s.text


@pytest.mark.parametrize("question", SEED_QUESTIONS)
def test_marked_answers_are_verbatim_inside_their_cited_sentence(seed_index, question):
    a = ask(seed_index, question)
    spans_are_verbatim(a)
    if not a.abstained:
        assert a.confidence is not None and a.sentences[0].answer is not None


def test_the_sentence_that_answers_comes_first(seed_index):
    a = ask(seed_index, "How many people died in the attack?")
    assert not a.abstained and "133" in a.sentences[0].answer.text


@pytest.mark.xfail(reason="issue 18's example, not met: the answer checker puts Putin's "
                   "attribution of the attack 'to this group' (0.43) above the sentence naming "
                   "the Islamic State (0.26; it marks 'Russian authorities' there)", strict=True)
def test_who_carried_out_the_attack_opens_with_the_islamic_state(seed_index):
    who = ask(seed_index, "Who carried out the attack?")
    assert not who.abstained and "Islamic State" in who.sentences[0].text, who.answer


def test_a_question_at_the_maximum_length_is_answered_or_abstains(seed_index):
    limit = seed_index.settings.max_question_chars
    q = ("How many people died in the attack? " * 100)[:limit]
    a = ask(seed_index, q)
    assert a.abstained or a.sentences
    spans_are_verbatim(a)


@pytest.mark.xfail(reason="not met: with a number left in the passage ('eleven suspects') the "
                   "answer checker's decision is 0.29, above its 0.26", strict=True)
def test_an_answer_removed_from_the_documents_abstains(tmp_path):
    from rag import Settings
    from rag.index import Index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hall.txt").write_text(
        "Gunmen opened fire on the audience of the concert hall before setting the building "
        "on fire. The Islamic State claimed responsibility for the attack within hours. "
        "Investigators later detained eleven suspects, four of them the gunmen.\n")
    root = tmp_path / "index"
    idx = Index.open(root, Settings.from_env(index_dir=str(root)), create=True)
    idx.update([docs])
    assert not ask(idx, "Who claimed responsibility for the attack?").abstained
    a = ask(idx, "How many people died in the attack?")
    assert a.abstained, a.answer
