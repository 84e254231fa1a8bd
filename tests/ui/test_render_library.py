"""The library table as HTML (ui/render_library.py): names, paths and reasons escaped,
spoofing characters shown, the name filter."""
from __future__ import annotations

from html_view import Parsed
from rag.types import Document
from ui.render_library import library_html


def test_library_escapes_names_paths_and_reasons_and_filters_by_name():
    evil = '<img src=x onerror="alert(1)">.md'
    docs = [Document(id="a1", path=f"/home/u/{evil}", name=evil, type="md", pages=1,
                     chunks=2, size=2048, indexed_at="2026-11-26T00:21:15+00:00"),
            Document(id="b2", path="/up/scan.pdf", name="scan.pdf", type="pdf",
                     status="skipped", reason="corrupt PDF: <b>bad</b> xref")]
    table = Parsed(library_html(docs))
    assert {t for t, _ in table.tags} <= {"div", "table", "thead", "tbody", "tr", "th", "td", "span"}
    assert evil in table.text and "corrupt PDF: <b>bad</b> xref" in table.text
    assert "2.0 KiB" in table.text and "2026-11-26 00:21" in table.text
    assert "scan.pdf" not in Parsed(library_html(docs, "IMG")).text
    assert "No documents match" in Parsed(library_html(docs, "nothing")).text


def test_a_name_with_a_right_to_left_override_cannot_pose_as_another_name():
    """Issue 20, item 14: "invoice<U+202E>fdp.exe" displays as "invoiceexe.pdf" unless the
    override is shown; the library, the sources and skipped lines show it escaped."""
    from rag.index import _document
    from rag.types import Skipped
    from ui.library_text import _skipped_line as skipped_md
    from ui.escape import name_html

    doc = _document("/docs/invoice\u202efdp.exe", size=1, indexed_at="", pages=1, chunks=1)
    assert doc.name == "invoice<U+202E>fdp.exe" and doc.path.endswith("\u202efdp.exe")
    for shown in (library_html([doc], ""), name_html(doc.path),
                  skipped_md(Skipped("/docs/a\u2066b\u200b.txt", "empty"))):
        assert not any(c in shown for c in "\u202e\u2066\u200b"), shown
    assert "&#60;U+2066&#62;" in skipped_md(Skipped("/docs/a\u2066b.txt", "empty"))
