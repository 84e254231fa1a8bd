"""LLM drafts that loop, and the one history slice. Pure logic: no model (a generator stands
in for the model's token stream; the real llama.cpp engine runs in test_engines.py)."""
from __future__ import annotations

import itertools

from rag.answering.citations import draft_sentences
from rag.engines.prompt import build_messages, looping, stop_loops
from rag.history import recent
from rag.retrieval import retrieval_query
from rag.types import Hit


class Tokens:
    """An endless token stream like SmolLM2's: one sentence, over and over."""

    def __init__(self, text: str, repeat: bool = True) -> None:
        words = text.split(" ")
        seq = itertools.cycle(words) if repeat else iter(words)
        self.pieces = ((" " if i else "") + w for i, w in enumerate(seq))
        self.produced = 0
        self.closed = False

    def __iter__(self):
        try:
            for p in self.pieces:
                self.produced += 1
                yield p
        finally:
            self.closed = True


def test_generation_stops_when_the_model_repeats_a_sentence():
    model = Tokens("The moon Pim is bright green [1].")
    draft = "".join(stop_loops(iter(model)))
    assert model.closed
    assert model.produced < 30  # stopped at the first repeat, not at max_tokens
    assert [d.text for d in draft_sentences(draft, 2)] == ["The moon Pim is bright green."]


def test_generation_stops_when_the_tail_repeats_without_a_full_stop():
    model = Tokens("green moon of Pim")
    "".join(stop_loops(iter(model)))
    assert model.closed and model.produced < 40


def test_a_draft_that_does_not_loop_is_passed_through_whole():
    text = "The moon Pim is bright green [1]. Zorblax orbits a red dwarf star [2]."
    model = Tokens(text, repeat=False)
    assert "".join(stop_loops(iter(model))) == text
    assert not looping(text)


def test_history_turns_zero_means_no_history():
    turns = ["Who attacked?", "Were they caught?", "When?"]
    assert recent(turns, 0) == []
    assert recent(turns, 2) == ["Were they caught?", "When?"]
    assert recent(turns, 5) == turns
    assert retrieval_query("Why?", turns, 0) == "Why?"
    hit = Hit(chunk_id=1, path="/d.txt", page=1, start=0, end=3, text="abc", score=1.0)
    pairs = [(t, "answer") for t in turns]
    users = [m["content"] for m in build_messages("Why?", [hit], pairs)[1:-1:2]]
    assert users == ["Were they caught?", "When?"]  # HISTORY_TURNS = 2
