"""Word and PowerPoint (rag/ingest/formats/office.py), files written by python-docx and
python-pptx: a .docx is one page in document order, headings and table headers recorded as
structure, footnotes at the end; a .pptx is a page per slide, title first, then the shapes
top to bottom and left to right, tables, and the speaker notes last."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from office_files import make_docx, make_pptx

from rag.errors import LoadError
from rag.ingest.loaders import load
from rag.ingest.places import place
from rag.types import Page


def structure(page: Page) -> list[tuple[str, int]]:
    return [(page.text[s:e], level) for s, e, level in page.structure]


def reason(name: str, data: bytes) -> str:
    with pytest.raises(LoadError) as e:
        load(Path(name), data)
    return str(e.value)


def test_docx_keeps_paragraph_order_headings_tables_and_footnotes():
    [page] = load(Path("report.docx"), make_docx(footnote="Counted by the 1911 survey."))
    lines = page.text.splitlines()
    assert lines[:3] == ["Bridges of the Valley", "Introduction",
                         "The valley has seven bridges. The oldest one is made of granite."]
    assert structure(page)[:3] == [("Bridges of the Valley", 0), ("Introduction", 1),
                                   ("Traffic", 2)]
    assert ("Bridge | Length | Material", 9) in structure(page)
    table_at = lines.index("Bridge | Length | Material")
    assert lines[table_at:table_at + 4] == ["Bridge | Length | Material",
                                            "North | 120 m | granite", "South | 80 m | steel",
                                            "The last paragraph closes the report."]
    assert lines[-2:] == ["Footnotes", "[1] Counted by the 1911 survey."]
    numbers = [int(ln.split()[1]) for ln in lines if ln.startswith("Paragraph ")]
    assert numbers == list(range(30))


def test_pptx_gives_one_page_per_slide_title_first_reading_order_notes_last():
    pages = load(Path("deck.pptx"), make_pptx())
    assert [(p.page, p.label) for p in pages] == [(1, "slide 1"), (2, "slide 2"),
                                                  (4, "slide 4")]  # slide 3 is a picture
    assert pages[0].text.splitlines() == ["Quarterly results",
                                          "Revenue grew by twelve percent in the spring.",
                                          "Speaker notes", "Mention the new warehouse in Lyon."]
    assert pages[1].text.splitlines() == ["Costs", "Energy costs doubled in the winter.",
                                          "Item | Cost", "Energy | 40000 EUR",
                                          "Shipping costs fell after the harbour opened."]
    assert structure(pages[1]) == [("Costs", 1), ("Item | Cost", 9)]
    assert place(pages[2].page, pages[2].label) == "slide 4"


def test_a_pptx_with_only_pictures_is_skipped_with_a_reason():
    assert "only pictures" in reason("photos.pptx", make_pptx(images_only=True))


def docx_bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def pptx_bytes(deck) -> bytes:
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def spent_deadline():
    import time

    from rag.ingest.formats.pagetext import Deadline

    deadline = Deadline(0.001)
    time.sleep(0.01)
    return deadline


def test_word_title_and_heading_1_to_6_are_structure_deeper_headings_are_prose():
    import docx

    d = docx.Document()
    for level in range(10):
        d.add_heading(f"Level {level} heading", level)
        d.add_paragraph(f"Text under level {level}.")
    [page] = load(Path("levels.docx"), docx_bytes(d))
    assert structure(page) == [(f"Level {n} heading", n) for n in range(7)]
    assert page.text.splitlines()[-2:] == ["Level 9 heading", "Text under level 9."]


def test_a_word_paragraph_is_one_line_whatever_breaks_and_tabs_it_holds():
    import docx

    d = docx.Document()
    d.add_paragraph("Zürich\tmeets\nthe   Limmat — 東京 🚀")
    d.add_paragraph("   ")  # blank: no line
    d.add_paragraph("Next.")
    [page] = load(Path("breaks.docx"), docx_bytes(d))
    assert page.text == "Zürich meets the Limmat — 東京 🚀\nNext."


def test_a_merged_word_table_cell_is_read_once_and_an_empty_cell_keeps_its_place():
    import docx

    d = docx.Document()
    d.add_paragraph("Before the table.")
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 1)).text = "Region"
    t.cell(0, 2).text = "Total"
    for c, value in enumerate(["North", "", "40"]):
        t.cell(1, c).text = value
    d.add_paragraph("After the table.")  # row 3 is empty: no line
    [page] = load(Path("table.docx"), docx_bytes(d))
    assert page.text.splitlines() == ["Before the table.", "Region | Total", "North | | 40",
                                      "After the table."]
    assert structure(page) == [("Region | Total", 9)]


def test_a_word_document_without_text_is_refused():
    import docx

    d = docx.Document()
    d.add_paragraph("")
    d.add_table(rows=2, cols=2)
    assert reason("blank.docx", docx_bytes(d)) == "no text found"


def test_a_zip_with_broken_word_xml_is_refused_as_corrupt_in_one_line():
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(make_docx()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, data[:len(data) // 2] if item.filename == "word/document.xml"
                         else data)
    msg = reason("torn.docx", buf.getvalue())
    assert msg.startswith("corrupt .docx file (") and "\n" not in msg


@pytest.mark.parametrize("make, loader", [(make_docx, "load_docx"), (make_pptx, "load_pptx")])
def test_the_reading_budget_is_said_as_such_not_as_a_corrupt_file(make, loader):
    from rag.ingest.formats import office

    with pytest.raises(LoadError, match=r"^took longer than 0.001 s to read "
                                        r"\(DOCCHAT_READ_SECONDS\)$"):
        getattr(office, loader)("x", make(), 8, spent_deadline())


def test_slide_shapes_are_read_top_to_bottom_then_left_to_right_groups_included():
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no title
    for text, left, top in [("bottom", 1, 6), ("top right", 5, 1), ("top left", 1, 1)]:
        slide.shapes.add_textbox(Inches(left), Inches(top), Inches(3), Inches(1)) \
            .text_frame.text = text
    group = slide.shapes.add_group_shape()
    for text, top in [("group lower", 4), ("group upper", 3)]:
        group.shapes.add_textbox(Inches(1), Inches(top), Inches(3), Inches(1)) \
            .text_frame.text = text
    [page] = load(Path("order.pptx"), pptx_bytes(deck))
    assert page.text.splitlines() == ["top left", "top right", "group upper", "group lower",
                                      "bottom"]
    assert page.structure == ()  # no title: no heading


def test_speaker_notes_come_last_a_line_each_under_their_own_header():
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "Budget"
    slide.notes_slide.notes_text_frame.text = "First point.\nSecond point.\n\nThird."
    empty = deck.slides.add_slide(deck.slide_layouts[5])
    empty.shapes.title.text = "No notes"
    empty.notes_slide.notes_text_frame.text = "  \n "
    first, second = load(Path("notes.pptx"), pptx_bytes(deck))
    assert first.text.splitlines() == ["Budget", "Speaker notes", "First point.",
                                       "Second point.", "Third."]
    assert structure(first) == [("Budget", 1), ("Speaker notes", 9)]
    assert second.text == "No notes" and place(second.page, second.label) == "slide 2"


def test_a_table_nested_in_a_word_table_cell_is_read_in_place():
    """Forms and letterheads are often tables in tables; python-docx's cell.text leaves the
    inner table out, so its words were in no passage."""
    import docx

    d = docx.Document()
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "Contact"
    outer = t.cell(0, 1)
    outer.paragraphs[0].text = "Office hours"
    inner = outer.add_table(rows=2, cols=2)
    for r, row in enumerate([["Monday", "9-12"], ["Friday", "closed"]]):
        for c, value in enumerate(row):
            inner.cell(r, c).text = value
    d.add_paragraph("After.")
    [page] = load(Path("nested.docx"), docx_bytes(d))
    assert page.text.splitlines() == ["Contact | Office hours Monday | 9-12; Friday | closed",
                                      "After."]


def test_word_content_controls_and_tracked_insertions_are_read_deletions_are_not():
    """A form's filled-in fields are content controls (w:sdt) and a reviewed draft holds
    tracked changes: python-docx's own text leaves both out, so their words were in no
    passage; deleted text must not come back either."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    d = docx.Document()
    d.add_paragraph("Intro.")
    d.element.body.insert(1, parse_xml(
        f'<w:sdt {nsdecls("w")}><w:sdtPr/><w:sdtContent>'
        '<w:p><w:r><w:t>Applicant: Ada Lovelace</w:t></w:r></w:p>'
        '</w:sdtContent></w:sdt>'))
    p = d.add_paragraph("The fee is ")
    p._p.append(parse_xml(
        f'<w:ins {nsdecls("w")} w:id="1" w:author="r"><w:r><w:t>forty</w:t></w:r></w:ins>'))
    p._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="2" w:author="r"><w:r><w:delText>thirty</w:delText>'
        '</w:r></w:del>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t xml:space="preserve"> euros.</w:t></w:r>'))
    [page] = load(Path("form.docx"), docx_bytes(d))
    assert page.text.splitlines() == ["Intro.", "Applicant: Ada Lovelace",
                                      "The fee is forty euros."]
