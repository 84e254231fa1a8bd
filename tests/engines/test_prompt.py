"""rag/engines/prompt.py: the prompt the LLM engines share, reasoning blocks dropped from
drafts, and drafts that loop stopped. Pure logic: no model (a generator stands in for the
model's token stream; the real llama.cpp engine runs in test_engines.py)."""
from __future__ import annotations

import itertools

from rag.answering.citations import draft_sentences
from rag.engines.prompt import build_messages, drop_think, looping, stop_loops, strip_think
from rag.types import CANNOT_ANSWER, Hit

QUESTION = "What colour is the moon of Zorblax?"
TEXTS = (
    "The planet Zorblax has a single moon called Pim. The moon Pim is bright green.",
    "Zorblax orbits a red dwarf star. A year on Zorblax lasts 40 days.",
)
PASSAGES = [Hit(chunk_id=n, path=f"/docs/zorblax-{n}.txt", page=n, start=0, end=len(t),
                text=t, score=0.9) for n, t in enumerate(TEXTS, start=1)]


def test_build_messages_numbers_passages_and_states_the_abstention_sentence():
    history = [("q1", "a1"), ("q2", "a2"), ("q3", "a3")]
    msgs = build_messages(QUESTION, PASSAGES, history)
    assert msgs[0]["role"] == "system" and CANNOT_ANSWER in msgs[0]["content"]
    assert "[1]" in msgs[0]["content"]
    # the last two turns only, in order, before the question
    assert [m["content"] for m in msgs[1:5]] == ["q2", "a2", "q3", "a3"]
    user = msgs[-1]
    assert user["role"] == "user" and QUESTION in user["content"]
    body = user["content"]
    assert body.index("[1] (zorblax-1.txt, page 1)") < body.index(TEXTS[0])
    assert body.index("[2] (zorblax-2.txt, page 2)") < body.index(TEXTS[1])
    assert "/docs/" not in body


def test_reasoning_blocks_are_dropped_from_drafts():
    assert strip_think("<think>hmm</think>\nPim is green [1].") == "Pim is green [1]."
    pieces = ["<th", "ink>let me", " see</thi", "nk>\n\nPim", " is green [1]."]
    assert "".join(drop_think(pieces)) == "Pim is green [1]."
    assert list(drop_think(["Pim", " is green [1]."])) == ["Pim", " is green [1]."]


def test_a_stream_that_ends_inside_a_reasoning_block_yields_nothing():
    assert list(drop_think(["<think>", "still thinking"])) == []
    assert list(drop_think(["<thi"])) == ["<thi"]  # undecided to the end: it was text


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
