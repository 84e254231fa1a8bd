"""Chunks rebuild their page text exactly, fit the model's token budget, keep sentences whole
and overlap their neighbours. Checked on the seed article, Markdown, HTML, office files, EPUB and real PDFs."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import office_files
import pytest
from conftest import ROOT, SHARED_EVAL, need_shared
from tokenizers import Tokenizer

from rag.ingest.chunking import chunk_page
from rag.embedding.model_files import model_dir, token_offsets
from rag.ingest.loaders import load
from rag.sentences import sentence_spans
from rag.settings import DEFAULT_MODEL, Settings
from rag.types import Chunk, Page

DEFAULTS = Settings()
BUDGETS = [(DEFAULTS.chunk_tokens, DEFAULTS.chunk_overlap), (60, 15)]
PDFS = ["federal-register-2020-17221.pdf", "Seige_of_Vicksburg_Sample_OCR.pdf",
        "GeoTopo-komprimiert.pdf", "multicolumn.pdf", "multi_page.pdf"]
LONG_SENTENCE = " ".join(["the committee reviewed photosynthesis in Zhytomyr and Kharkiv"] * 60)
MARKDOWN = f"""# Field notes

Intro paragraph. It has two sentences, e.g. this one.

## A list
- first item with some words
- second item, longer than the first one by a few words
1. numbered item

```
code block line one
code block line two
```

{LONG_SENTENCE}. Then a short sentence. And another one to close the section.
""" + "\n".join(f"Paragraph {i} says something about topic {i}. It adds a detail." for i in range(40))
HTML = """<html><head><title>T</title><style>p {color: red}</style></head><body>
<h1>Report</h1><p>The first paragraph talks about rivers. Rivers flow to the sea.</p>
<script>var hidden = 1;</script>""" + "".join(
    f"<p>Section {i} describes bridge number {i}. It was built in {1900 + i}.</p>"
    for i in range(60)) + "<ul><li>one</li><li>two</li></ul></body></html>"


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(model_dir(DEFAULT_MODEL) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def n_tokens(text: str) -> int:
    return len(tokenizer().encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=None)
def pages_of(name: str) -> tuple[Page, ...]:
    if name == "seed":
        return tuple(load(ROOT / "seeds" / "crocus-city-hall-attack.txt"))
    if name == "markdown":
        return tuple(load(Path("notes.md"), MARKDOWN.encode()))
    if name == "html":
        return tuple(load(Path("report.html"), HTML.encode()))
    if name in OFFICE:
        return tuple(load(Path(f"file.{name}"), OFFICE[name]()))
    return tuple(load(need_shared(SHARED_EVAL / "pdfs" / name)))


OFFICE = {"docx": lambda: office_files.make_docx(footnote="A footnote."),
          "pptx": office_files.make_pptx, "xlsx": lambda: office_files.make_xlsx(300),
          "csv": lambda: office_files.CSV.encode(), "epub": office_files.make_epub}
SOURCES = ["seed", "markdown", "html", *OFFICE, *PDFS]


def chunks_of(page: Page, budget: tuple[int, int]) -> list[Chunk]:
    return chunk_page(page, token_offsets(DEFAULT_MODEL), *budget)


def long_sentences(page: Page, max_tokens: int) -> list[tuple[int, int]]:
    return [(s, e) for s, e in sentence_spans(page.text, page.structure) if n_tokens(page.text[s:e]) > max_tokens]


def inside(chunk: Chunk, spans: list[tuple[int, int]]) -> bool:
    return any(s <= chunk.start and chunk.end <= e for s, e in spans)


def rebuild(chunks: list[Chunk]) -> str:
    text = ""
    for c in chunks:
        assert c.start <= len(text), f"gap before chunk {c.start}..{c.end}"
        text += c.text[len(text) - c.start:]
    return text


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b[0]}tok")
@pytest.mark.parametrize("source", SOURCES)
def test_chunks_rebuild_each_page_text_exactly(source, budget):
    for page in pages_of(source):
        chunks = chunks_of(page, budget)
        assert chunks, f"page {page.page} has text but no chunks"
        for c in chunks:
            assert c.text == page.text[c.start:c.end]
            assert (c.page, c.label) == (page.page, page.label)
        assert chunks[0].start == 0 and chunks[-1].end == len(page.text)
        for a, b in zip(chunks, chunks[1:]):
            assert a.start < b.start and a.end < b.end, "chunks must move forward"
        assert rebuild(chunks) == page.text


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b[0]}tok")
@pytest.mark.parametrize("source", SOURCES)
def test_chunks_fit_the_token_budget_of_the_model(source, budget):
    max_tokens = budget[0]
    for page in pages_of(source):
        for c in chunks_of(page, budget):
            assert n_tokens(c.text) <= max_tokens, (page.page, c.start, c.end)


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b[0]}tok")
@pytest.mark.parametrize("source", SOURCES)
def test_no_sentence_is_cut_unless_it_alone_exceeds_the_budget(source, budget):
    for page in pages_of(source):
        bounds = {0, len(page.text)} | {e for _, e in sentence_spans(page.text, page.structure)}
        too_long = long_sentences(page, budget[0])
        for c in chunks_of(page, budget):
            if inside(c, too_long):
                continue
            assert c.start in bounds and c.end in bounds, (page.page, c.start, c.end)


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b[0]}tok")
@pytest.mark.parametrize("source", SOURCES)
def test_consecutive_chunks_overlap_by_whole_sentences_within_the_overlap(source, budget):
    """The last sentence of a chunk is repeated at the start of the next one when it fits in
    the overlap and leaves room for the next new sentence."""
    max_tokens, overlap = budget
    expected = 0
    for page in pages_of(source):
        spans = sentence_spans(page.text, page.structure)
        chunks = chunks_of(page, budget)
        for a, b in zip(chunks, chunks[1:]):
            shared = page.text[b.start:a.end] if b.start < a.end else ""
            assert n_tokens(shared) <= overlap
            mine = [(s, e) for s, e in spans if a.start <= s and e <= a.end]
            after = [(s, e) for s, e in spans if s == a.end]
            if len(mine) < 2 or not after:
                continue
            last, new = (n_tokens(page.text[s:e]) for s, e in (mine[-1], after[0]))
            if last <= overlap and last + new <= max_tokens:
                expected += 1
                assert shared, f"page {page.page}: no overlap after {a.start}..{a.end}"
    if source in ("seed", "html") and budget == BUDGETS[0]:
        assert expected >= 2  # the check above did run on real text


def test_an_over_long_sentence_is_cut_into_pieces_that_each_fit():
    page = Page("x.txt", 1, "Short start. " + LONG_SENTENCE + ". Short end.")
    chunks = chunks_of(page, (50, 10))
    long_span = long_sentences(page, 50)
    assert len(long_span) == 1
    pieces = [c for c in chunks if inside(c, long_span)]
    assert len(pieces) >= n_tokens(LONG_SENTENCE) // 50
    assert all(n_tokens(c.text) <= 50 for c in pieces)
    assert rebuild(chunks) == page.text
    assert all(not c.text[:1].isalnum() or page.text[c.start - 1:c.start].isspace()
               for c in pieces if c.start), "a piece starts in the middle of a word"


def test_a_page_shorter_than_the_budget_is_one_chunk():
    page = Page("x.txt", 3, "One sentence. Another one.", label="iii")
    assert chunks_of(page, BUDGETS[0]) == [Chunk(3, 0, len(page.text), page.text, "iii")]


def test_chunking_is_deterministic():
    page = pages_of("seed")[0]
    assert chunks_of(page, BUDGETS[1]) == chunks_of(page, BUDGETS[1])
