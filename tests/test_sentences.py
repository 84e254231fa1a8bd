"""Sentence spans tile the text exactly; boundaries fall where a reader expects them."""
from __future__ import annotations

import random

import pytest
from conftest import ROOT

from rag.sentences import sentence_spans, split_sentences

SEED_TEXT = (ROOT / "seeds" / "crocus-city-hall-attack.txt").read_text(encoding="utf-8")

PIECES = [
    "The hall was full.", "Dr. Smith arrived at 5 p.m. on Monday.", "Was it late?", "Yes!",
    "It cost $3.5 million, i.e. more than planned.", '"We ran," she said.', "(See Fig. 2.)",
    "Über alles.", "Ça va.", "J. R. R. Tolkien wrote it.", "The U.S. Army came…", "1999.",
    "# A heading", "- a list item", "1. a numbered item", "> a quote", "no end punctuation",
    "Emoji 🎉 too.", "tabs\tinside.", "e.g. this", "...", "?!", "",
]
GLUE = [" ", "  ", "\n", "\n\n", "\n \n", " \n\n  ", "\t", ""]


def assert_tiles(text: str, spans: list[tuple[int, int]]) -> None:
    if not text:
        assert spans == []
        return
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (s, e), (s2, _) in zip(spans, spans[1:]):
        assert e == s2, f"gap or overlap at {e}/{s2} in {text!r}"
    assert all(e > s for s, e in spans), f"empty span in {text!r}"
    assert "".join(text[s:e] for s, e in spans) == text


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 12)):
        parts += [rng.choice(PIECES), rng.choice(GLUE)]
    return rng.choice(["", " ", "\n"]) + "".join(parts)


@pytest.mark.parametrize("text", [
    "", " ", "\n\n\n", "Hello world", "One. Two. Three.", SEED_TEXT,
    "  leading space. Then more!  Trailing?  ", "a.\n\nb", "# Title\nText. More.\n\n- x\n- y\n",
])
def test_spans_tile_the_text_exactly(text):
    assert_tiles(text, sentence_spans(text))


def test_spans_tile_any_mix_of_sentences_headings_lists_and_whitespace():
    rng = random.Random(2024)
    for _ in range(500):
        text = random_text(rng)
        assert_tiles(text, sentence_spans(text))


def test_each_span_after_the_first_starts_at_a_sentence_not_at_whitespace():
    rng = random.Random(7)
    for _ in range(200):
        text = random_text(rng)
        for s, _ in sentence_spans(text)[1:]:
            assert not text[s].isspace(), (text, s)


def test_the_seed_article_splits_into_its_sentences():
    sentences = split_sentences(SEED_TEXT)
    assert len(sentences) >= 10
    assert sentences[0].startswith("A devastating terror attack")
    assert sentences[0].endswith("two decades.")
    assert all(s[-1] in ".!?\"'”’)" for s in sentences), sentences


def test_abbreviations_and_initials_do_not_end_a_sentence():
    text = "Dr. Smith met J. R. Tolkien in the U.S. on Monday. They talked, e.g. about Fig. 2."
    assert split_sentences(text) == [
        "Dr. Smith met J. R. Tolkien in the U.S. on Monday.",
        "They talked, e.g. about Fig. 2."]


def test_question_marks_exclamations_and_closing_quotes_end_sentences():
    text = 'Was it late? Yes! "We ran." She left.'
    assert split_sentences(text) == ["Was it late?", "Yes!", '"We ran."', "She left."]


def test_decimal_numbers_do_not_end_a_sentence():
    assert split_sentences("It was 3.5 m long. Then it grew.") == [
        "It was 3.5 m long.", "Then it grew."]


def test_paragraphs_headings_and_list_items_are_separate_units():
    text = "# Title\nSome text\n\nA paragraph without a full stop\n- item one\n- item two\n"
    assert split_sentences(text) == [
        "# Title", "Some text", "A paragraph without a full stop", "- item one", "- item two"]


def test_accented_capitals_start_sentences():
    assert split_sentences("Ende. Über alles. Ça va.") == ["Ende.", "Über alles.", "Ça va."]


def test_whitespace_only_text_yields_no_sentences_but_is_still_covered():
    assert split_sentences(" \n\t ") == []
    assert sentence_spans(" \n\t ") == [(0, 4)]


def test_each_spreadsheet_row_is_a_sentence_of_its_own():
    """The sheet loaders write a row per line without end punctuation; a cited sentence must
    be one row (an 11-row sheet was one 1,760-character sentence, rows cut mid-way)."""
    from rag.ingest.formats.sheets import load_csv
    from rag.ingest.formats.pagetext import Deadline

    csv = "Item,Cost (GBP),Owner\n" + "".join(f"Line {i},{i * 1000},Team {i}\n" for i in range(11))
    text = load_csv("budget.csv", csv, 1000, Deadline(60))[0].text
    rows = [s for s in split_sentences(text) if s.startswith("Row ")]
    assert len(rows) == 11, split_sentences(text)
    assert rows[3] == "Row 5: Item: Line 3; Cost (GBP): 3000; Owner: Team 3"


def test_a_title_is_never_merged_into_the_sentence_after_it():
    text = "Snow White and the Huntsman\nSnow White is a film. It is from 2012."
    plain = [text[s:e].strip() for s, e in sentence_spans(text)]
    assert plain[0].startswith("Snow White and the Huntsman\nSnow White is a film")  # merged
    split = [text[s:e].strip() for s, e in sentence_spans(text, [(0, 27, 0)])]
    assert split == ["Snow White and the Huntsman", "Snow White is a film.", "It is from 2012."]


def test_a_structural_line_is_one_unit_even_with_full_stops_inside_it():
    """A table-of-contents line holds dots that would end sentences in prose; marked as
    structure it stays whole, and the spans still tile the text."""
    text = "Contents. Part One. Chapter 2 ... 14\nThe story starts here. It ends there."
    toc_end = text.index("\n")
    assert [text[s:e] for s, e in sentence_spans(text)][0] == "Contents. "  # unmarked: cut
    spans = sentence_spans(text, [(0, toc_end, 9)])
    assert_tiles(text, spans)
    assert [text[s:e].strip() for s, e in spans] == [
        "Contents. Part One. Chapter 2 ... 14", "The story starts here.", "It ends there."]
