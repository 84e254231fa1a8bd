"""Streaming an answer (rag.answer.ask_stream) as the page shows it: stages before the slow
steps, the extractive engine's sentences one piece each, and a final Answer identical to the
non-streamed one, every streamed sentence verbatim in the passage it cites."""
from __future__ import annotations

import re

import pytest

from rag.answer import ask, ask_stream
from rag.engines.extractive import in_answer_order
from rag.index import Index
from rag.settings import Settings
from rag.types import Answer, Stage

QUESTIONS = ["How many people died in the attack?",
             "Who claimed responsibility for the attack?",
             "What did Vladimir Putin say?",
             "What is the boiling point of water?"]  # an abstention
MARKER = re.compile(r" \[(\d+)\]$")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from conftest import ROOT

    settings = Settings.from_env(index_dir=str(tmp_path_factory.mktemp("stream") / "index"))
    idx = Index.open(settings.index_dir, settings, create=True)
    idx.update([ROOT / "seeds"])
    return idx


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS)
def test_streamed_extractive_answer_is_the_non_streamed_one_sentence_by_sentence(index, question):
    events = list(ask_stream(index, question))
    answer = events[-1]
    assert isinstance(answer, Answer) and not any(isinstance(e, Answer) for e in events[:-1])
    stages = [e.text for e in events if isinstance(e, Stage)]
    assert stages[0].startswith("Reading the ") and stages[0].endswith("best passages…")
    assert isinstance(events[0], Stage)  # said before the slow evidence step, not after
    plain = ask(index, question)
    same = ("question", "answer", "abstained", "sentences", "sources", "engine", "evidence")
    assert {k: getattr(answer, k) for k in same} == {k: getattr(plain, k) for k in same}
    pieces = [e for e in events if isinstance(e, str)]
    if answer.abstained:
        return
    assert stages[-1].startswith("Checking")
    # one piece per answer sentence, in the answer's order, each verbatim in its passage
    assert len(pieces) == len(answer.sentences) >= 1
    hits = index.search(question, index.settings.top_k)
    for piece, sentence in zip(pieces, answer.sentences):
        text, n = MARKER.split(piece.strip())[:2]
        assert flat(text) == sentence.text
        assert flat(text) in flat(hits[int(n) - 1].text)
        cited = [s for s in answer.sources if s.n in sentence.citations]
        assert cited and all(sentence.text in flat(s.text) for s in cited)


def test_the_best_sentence_is_out_before_the_others_are_searched():
    """in_answer_order hands out the first pick without asking for the next one (the draft's
    first sentence streams while the rest are still being chosen)."""
    class Sent:
        def __init__(self, passage, start):
            self.passage, self.start = passage, start

    sents = [Sent(0, 50), Sent(1, 0), Sent(0, 10)]
    asked = []

    def picks():
        for i in (1, 0, 2):
            asked.append(i)
            yield i

    order = in_answer_order(picks(), sents)
    assert next(order) == 1 and asked == [1]
    assert list(order) == [2, 0]  # the rest in reading order: passage, then position
