"""Real PDFs: page numbers are kept, printed page numbers are found, citations name both."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED_EVAL, need_shared

from rag import Settings, ask
from rag.index import Index
from rag.ingest.loaders import load, printed_numbers

PDFS = SHARED_EVAL / "pdfs"


def pdf(name: str) -> Path:
    return need_shared(PDFS / name)


def test_journal_pages_get_their_printed_numbers_including_the_title_page():
    pages = load(pdf("federal-register-2020-17221.pdf"))
    assert [p.page for p in pages] == list(range(1, 16))
    assert [p.label for p in pages] == [str(n) for n in range(47698, 47713)]


def test_pdf_page_labels_are_used_when_the_pdf_defines_them():
    labels = [p.label for p in load(pdf("GeoTopo-komprimiert.pdf"))]
    assert labels[:5] == ["i", "ii", "iii", "1", "2"]


def test_a_sample_with_a_missing_page_keeps_the_numbers_printed_on_each_page():
    labels = [p.label for p in load(pdf("Seige_of_Vicksburg_Sample_OCR.pdf"))]
    assert labels == ["49", "50", "52", "53", "54", "55"]


def test_no_printed_numbers_means_no_labels():
    assert printed_numbers(["Intro text\nmore", "Other text\nend", "Third page"]) == [""] * 3
    assert all(p.label == "" for p in load(pdf("multi_page.pdf")))


@pytest.mark.slow
def test_answer_cites_the_pdf_page_and_its_printed_number(tmp_path):
    idx = Index.open(tmp_path, Settings.from_env(index_dir=str(tmp_path)), create=True)
    idx.update([pdf("federal-register-2020-17221.pdf")])
    a = ask(idx, "Which airworthiness directive does the FAA propose to supersede?")
    assert not a.abstained
    assert "2018" in a.answer
    cited = [s for s in a.sources if any(s.n in x.citations for x in a.sentences)]
    first = cited[0]
    assert (first.page, first.label) == (1, "47698")
