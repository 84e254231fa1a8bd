"""Size caps: a file over its format's cap is skipped with a reason (the rest indexed), and a
"sentence" the tokenizer sees as one token cannot become a giant chunk (or a giant answer)."""
from __future__ import annotations

from pathlib import Path

from rag.ingest.chunking import MAX_CHARS_PER_TOKEN, chunk_page
from rag.index import Index
from rag.settings import Settings
from rag.types import Page
from fakes import HashEmbedder


def one_token_per_word(texts):
    """Token offsets as the real tokenizer gives them for unsplittable words: one per word."""
    import re

    return [[m.span() for m in re.finditer(r"\S+", t)] for t in texts]


def test_a_line_without_spaces_is_cut_into_chunks_of_bounded_size():
    blob = "A" * 300_000  # base64-like: one "token" for the tokenizer
    text = "The log begins here. " + blob + " The log ends here."
    page = Page(path="log.txt", page=1, text=text)
    chunks = chunk_page(page, one_token_per_word, 200, 40)
    assert max(len(c.text) for c in chunks) <= 200 * MAX_CHARS_PER_TOKEN
    assert all(c.text == text[c.start:c.end] for c in chunks)  # the round trip holds
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(b.start <= a.end for a, b in zip(chunks, chunks[1:]))  # no gap: nothing lost


def test_a_file_over_its_cap_is_skipped_with_the_variable_named(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "small.txt").write_text("The depot stores 40 crates.\n")
    (docs / "huge.txt").write_text("The depot stores crates. " * 50_000)  # about 1.2 MiB
    settings = Settings(index_dir=str(tmp_path / "idx"), max_text_file_mb=1.0)
    summary = Index(tmp_path / "idx", settings, embedder=HashEmbedder(dim=4)).update([str(docs)])
    assert [Path(p).name for p in summary.added] == ["small.txt"]
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert "too large" in reasons["huge.txt"] and "DOCCHAT_MAX_TEXT_FILE_MB" in reasons["huge.txt"]
    docs_listed = Index.open(tmp_path / "idx", settings).documents()
    assert {(d.name, d.status) for d in docs_listed} == {("small.txt", "indexed"),
                                                         ("huge.txt", "skipped")}
