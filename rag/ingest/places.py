"""Where a passage is, in the words a reader uses for its format: "page 4 (printed 47)",
"page 2, OCR text", "slide 3", "sheet Budget, rows 4-9", "chapter 2".

Loaders put the place into Page.label: a PDF's printed page label (plus the OCR mark when the
text came from OCR), or a whole place name for formats without pages ("slide N",
"sheet NAME", "chapter N")."""
from __future__ import annotations

from rag.ingest.formats.ocr import OCR_MARK
from rag.ingest.formats.sheets import rows_of

_NAMED = ("slide ", "chapter ")


def place(page: int, label: str = "", text: str = "") -> str:
    """The place of a passage (``text``, when given, narrows a sheet to its rows)."""
    if label.startswith(_NAMED):
        return label
    if label.startswith("sheet "):
        rows = rows_of(text) if text else None
        if rows is None:
            return label
        a, b = rows
        return f"{label}, row {a}" if a == b else f"{label}, rows {a}-{b}"
    ocr = label.endswith(OCR_MARK)
    printed = label[:-len(OCR_MARK)].strip() if ocr else label
    return (f"page {page}" + (f" (printed {printed})" if printed else "")
            + (", OCR text" if ocr else ""))

