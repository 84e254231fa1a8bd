"""Word (.docx, python-docx) and PowerPoint (.pptx, python-pptx).

.docx: one page (Word stores no pages): paragraphs and tables in document order, headings
(Title, Heading 1-6) recorded as structure, table rows as cells joined by " | " (the first
row a table-header line), footnotes at the end. .pptx: one page per slide, labelled
"slide N": the title, then the other text in reading order (top to bottom, left to right),
tables, and the speaker notes last."""
from __future__ import annotations

import io
import re

from rag.errors import LoadError
from rag.ingest.formats.pagetext import OTHER, TITLE, Deadline, PageText
from rag.ingest.formats.zips import safe_zip
from rag.types import Page

CELL_SEP = " | "
_HEADING = re.compile(r"heading (\d)$", re.IGNORECASE)


def _library_error(kind: str, e: Exception) -> LoadError:
    reason = " ".join(str(e).split())[:200] or type(e).__name__
    return LoadError(f"corrupt {kind} file ({reason})")


def load_docx(path: str, data: bytes, max_mb: float, deadline: Deadline) -> list[Page]:
    data = safe_zip(data, ".docx", max_mb)
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        out = PageText()
        for block in _docx_blocks(document.element.body, document._body):
            deadline.check()
            if isinstance(block, docx.table.Table):
                _table(out, block.rows, lambda row: row.cells, _docx_cell_text)
            else:
                out.add(_docx_text(block), _docx_level(block))
        notes = _footnotes(document)
        if notes:
            out.add("Footnotes", OTHER)
            for n, text in notes:
                out.add(f"[{n}] {text}")
    except LoadError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken part may raise anything inside the library
        raise _library_error(".docx", e) from e
    return [out.page(path, 1)]


def _docx_cell_text(cell, depth: int = 0) -> str:
    """A Word table cell's paragraphs and the tables nested in it (their rows as " | " cells,
    "; " between rows): python-docx's ``cell.text`` leaves nested tables out, and with them
    every word of a layout built from tables in tables."""
    import docx

    parts = []
    for block in _docx_blocks(cell._tc, cell):
        if isinstance(block, docx.table.Table):
            if depth >= 8:  # a document nesting deeper than this is not a layout, an attack
                continue
            rows = []
            for row in block.rows:
                seen, texts = set(), []
                for inner in row.cells:
                    if id(inner._tc) not in seen:
                        seen.add(id(inner._tc))
                        texts.append(" ".join(_docx_cell_text(inner, depth + 1).split()))
                if any(texts):
                    rows.append(" | ".join(texts))
            parts.append("; ".join(rows))
        else:
            parts.append(_docx_text(block))
    return "\n".join(p for p in parts if p)


def _docx_blocks(element, parent):
    """The paragraphs and tables of a body or cell in order, content controls included
    (python-docx's iter_inner_content skips a w:sdt block and every paragraph in it: a form's
    or a template's filled-in text)."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)
        elif child.tag == qn("w:sdt"):
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _docx_blocks(content, parent)


def _docx_text(paragraph) -> str:
    """A paragraph's text as Word shows it with changes accepted: its runs, also those inside
    tracked insertions, inline content controls, fields and smart tags (python-docx's
    ``text`` reads only direct runs and links), never deleted or moved-away text, nor text
    boxes anchored in it."""
    return "".join(r.text for r in paragraph._p.xpath(
        ".//w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom)"
        " and not(ancestor::w:txbxContent)]"))


def _docx_level(paragraph) -> int | None:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return None
    if name == "Title":
        return TITLE
    m = _HEADING.match(name or "")
    return int(m.group(1)) if m and 1 <= int(m.group(1)) <= 6 else None


def _footnotes(document) -> list[tuple[str, str]]:
    """(number, text) of the footnotes. python-docx has no footnote API yet, so the
    footnotes part is found through its relationship and read with python-docx's own XML
    parser; separator entries (negative or zero ids, no text) are left out."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.parser import parse_xml
    from docx.oxml.ns import qn

    part = next((r.target_part for r in document.part.rels.values()
                 if r.reltype == RT.FOOTNOTES and not r.is_external), None)
    if part is None:
        return []
    root = parse_xml(part.blob)
    notes = []
    for note in root.iter(qn("w:footnote")):
        number = note.get(qn("w:id"), "")
        if note.get(qn("w:type")) in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        paragraphs = ["".join(t.text or "" for t in p.iter(qn("w:t")))
                      for p in note.iter(qn("w:p"))]
        text = " ".join(p for p in paragraphs if p.strip())
        if text.strip():
            notes.append((number, text))
    return notes


def _table(out: PageText, rows, cells_of, text_of) -> None:
    """Rows as cells joined by " | "; a merged cell (the same cell object repeated across the
    columns it spans) counts once; the first row is recorded as a table header line."""
    for i, row in enumerate(rows):
        seen: list[object] = []
        texts = []
        for cell in cells_of(row):
            key = getattr(cell, "_tc", cell)
            if any(key is s for s in seen):
                continue
            seen.append(key)
            texts.append(" ".join(text_of(cell).split()))
        if any(texts):
            out.add(CELL_SEP.join(texts), OTHER if i == 0 else None)


def load_pptx(path: str, data: bytes, max_mb: float, deadline: Deadline) -> list[Page]:
    data = safe_zip(data, ".pptx", max_mb)
    try:
        from pptx import Presentation

        deck = Presentation(io.BytesIO(data))
        pages = []
        for number, slide in enumerate(deck.slides, start=1):
            deadline.check()
            out = PageText()
            title = slide.shapes.title
            if title is not None and title.has_text_frame:
                out.add(title.text_frame.text, 1)
            for shape in sorted(_shapes(slide.shapes), key=_reading_order):
                if title is not None and shape.shape_id == title.shape_id:
                    continue
                if getattr(shape, "has_table", False) and shape.has_table:
                    _table(out, shape.table.rows, lambda row: row.cells,
                           lambda cell: cell.text)
                elif shape.has_text_frame:
                    for paragraph in shape.text_frame.paragraphs:
                        out.add("".join(run.text for run in paragraph.runs) or paragraph.text)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = slide.notes_slide.notes_text_frame.text
                if notes.strip():
                    out.add("Speaker notes", OTHER)
                    for line in notes.splitlines():
                        out.add(line)
            if out:
                pages.append(out.page(path, number, f"slide {number}"))
    except LoadError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken part may raise anything inside the library
        raise _library_error(".pptx", e) from e
    if not pages:
        raise LoadError("no text found: the slides hold only pictures or nothing")
    return pages


def _shapes(shapes):
    """Every shape, the members of groups included (a group is read as its parts)."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _reading_order(shape) -> tuple[int, int]:
    return (shape.top or 0, shape.left or 0)
