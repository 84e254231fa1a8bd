"""Where a passage is, in a reader's words (rag/ingest/places.py): PDF pages with their printed
labels and the OCR mark, slides and chapters, and a sheet narrowed to the rows a passage shows."""
from __future__ import annotations

import pytest

from rag.ingest.formats.ocr import OCR_MARK
from rag.ingest.formats.pagetext import Deadline
from rag.ingest.formats.sheets import load_csv
from rag.ingest.places import place


@pytest.mark.parametrize("page, label, want", [
    (4, "", "page 4"),
    (4, "47", "page 4 (printed 47)"),
    (3, "xii", "page 3 (printed xii)"),
    (2, OCR_MARK, "page 2, OCR text"),
    (4, f"47 {OCR_MARK}", "page 4 (printed 47), OCR text"),
])
def test_a_pdf_page_is_named_by_number_with_its_printed_label_and_ocr_mark(page, label, want):
    assert place(page, label) == want


@pytest.mark.parametrize("label", ["slide 3", "chapter 2", "chapter 12: The Return"])
def test_slides_and_chapters_are_named_as_the_loader_labelled_them(label):
    assert place(1, label) == label
    assert place(1, label, "Some passage text.") == label


def test_a_sheet_passage_names_exactly_the_rows_it_shows():
    """Every run of lines of a real CSV page: the rows named are the spreadsheet rows whose
    values the passage holds (row r holds "Line r-2": row 1 is the header)."""
    csv = "Item,Cost (GBP),Owner\n" + "".join(f"Line {i},{i * 1000},Team {i}\n" for i in range(8))
    [page] = load_csv("budget.csv", csv, 1000, Deadline(60))
    assert page.label == "sheet budget"
    lines = page.text.split("\n")
    checked = 0
    for i in range(len(lines)):
        for j in range(i + 1, len(lines) + 1):
            passage = "\n".join(lines[i:j])
            rows = [r for r in range(2, 10) if f"Line {r - 2};" in passage]
            got = place(page.page, page.label, passage)
            if not rows:
                assert got == "sheet budget", passage
            elif len(rows) == 1:
                assert got == f"sheet budget, row {rows[0]}", passage
            else:
                assert got == f"sheet budget, rows {rows[0]}-{rows[-1]}", passage
            checked += bool(rows)
    assert checked > 30
    assert place(page.page, page.label) == "sheet budget"  # no passage: the sheet alone
