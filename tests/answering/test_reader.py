"""The trained reader (rag.answering.span_reader): does a cited passage hold an answer at all?"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.types import Abstention
from rag import CANNOT_ANSWER, Settings, ask
from rag.answering.span_reader import META, WEIGHTS, SpanReader, enabled

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "crocus-city-hall-attack.txt"
PASSAGE = ("The Moscow concert hall attack killed 145 people and injured more than 500. "
           "Gunmen opened fire on the audience before setting the building on fire. "
           "The Islamic State claimed responsibility for the attack within hours.")
WITHOUT = ("Gunmen opened fire on the audience before setting the building on fire. "
           "The Islamic State claimed responsibility for the attack within hours.")


def test_recorded_reader_is_small_and_matches_the_setting():
    info = json.loads(META.read_text(encoding="utf-8"))
    assert WEIGHTS.stat().st_size < 3 * 2**20  # the low-rank updates and heads only
    assert info["base"] == "all-MiniLM-L6-v2"
    assert 0 < info["threshold"] < 1
    assert Settings().reader_threshold == pytest.approx(info["threshold"], abs=1e-3)
    assert Settings().abstain_threshold == pytest.approx(info["abstain_threshold"], abs=1e-3)
    cal = info["calibration"]["at_threshold"]  # the trade-off chosen on calibration articles
    assert cal["answerable_abstained"] <= 0.08 and "offtopic_abstained" in cal
    assert cal["unanswerable_abstained"] > 2 * cal["answerable_abstained"]
    assert info["calibration"]["paraphrase"]["seed_abstained"] == 0


def test_the_reader_is_off_at_0_and_with_a_remote_embedding_server():
    assert enabled(Settings())
    assert not enabled(Settings(reader_threshold=0.0))
    # a remote embedder means no local model (no torch): the reader would load one
    assert not enabled(Settings(embed_url="http://127.0.0.1:8080/v1"))


@pytest.mark.slow
def test_the_answer_removed_from_a_passage_is_noticed():
    reader = SpanReader.shared()
    t = Settings().reader_threshold
    questions = ["How many people died in the attack?", "How many people were killed?"]
    for q in questions:
        with_answer, without = reader.read(q, [PASSAGE, WITHOUT])
        assert with_answer.probability >= t > without.probability, (q, with_answer, without)
        assert "145" in with_answer.span
    # an answerable question about another part of the same passage is still read as answered
    who = reader.read("Who claimed responsibility for the attack?", [WITHOUT])[0]
    assert who.probability >= t and "Islamic State" in who.span


@pytest.mark.slow
def test_spans_are_verbatim_and_a_long_passage_is_read_to_its_end():
    reader = SpanReader.shared()
    filler = " ".join(f"Paragraph {i} describes the hall's architecture and its seats."
                      for i in range(60))  # ~700 tokens: beyond one window
    long = filler + " The hall was rebuilt by the architect Ivan Petrov in 2027."
    r = reader.read("Which architect rebuilt the hall?", [long, PASSAGE])
    assert all(x.span in p for x, p in zip(r, [long, PASSAGE]))  # invariant: verbatim spans
    assert "Petrov" in r[0].span and r[0].probability > r[1].probability


@pytest.mark.slow
def test_hook_abstains_below_the_reader_threshold_and_says_why(seed_index):
    """The reader runs when the answer checker cannot (here: switched off)."""
    q = "How many people died?"
    strict = seed_index.settings.replace(reader_threshold=0.9999, answerable_threshold=0.0,
                                         checker_threshold=0.0)
    a = ask(seed_index, q, settings=strict)
    assert a.abstained and a.answer == CANNOT_ANSWER
    assert a.abstention is Abstention.NOT_IN_PASSAGES
    assert a.notes[0].startswith("no passage holds an answer (reader"), a.notes
    assert not ask(seed_index, q, settings=strict.replace(reader_threshold=0.0)).abstained


@pytest.mark.slow
def test_the_reader_reads_the_same_on_onnx_as_on_torch():
    """DOCCHAT_EMBED_BACKEND=onnx (and auto, where onnxruntime is installed) runs the reader
    exported to ONNX: the same probabilities and spans as on torch."""
    torch_reader, onnx_reader = SpanReader(backend="torch"), SpanReader(backend="onnx")
    assert onnx_reader.backend == "onnx"
    filler = " ".join(f"Paragraph {i} describes the hall's seats." for i in range(80))
    passages = [PASSAGE, WITHOUT, filler + " The hall was rebuilt by Ivan Petrov in 2027."]
    for q in ["How many people died in the attack?", "Who rebuilt the hall?",
              "Who claimed responsibility? " * 40]:  # a question past the 64-token cut
        for a, b in zip(torch_reader.read(q, passages), onnx_reader.read(q, passages)):
            assert (a.start, a.end, a.span) == (b.start, b.end, b.span), q
            assert a.probability == pytest.approx(b.probability, abs=1e-3), q
