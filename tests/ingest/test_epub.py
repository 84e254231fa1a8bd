"""E-books (rag/ingest/formats/epub.py), written with zipfile as tests/office_files.py does
(no EPUB writer is installed): the chapters the spine names, in its order, a page each that
has text, their headings as structure; a broken package is refused in one line."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from office_files import make_epub

from rag.errors import LoadError
from rag.ingest.loaders import load
from rag.types import Page


def structure(page: Page) -> list[tuple[str, int]]:
    return [(page.text[s:e], level) for s, e, level in page.structure]


def test_epub_reads_chapters_in_spine_order_with_their_titles_and_visible_text_only():
    pages = load(Path("book.epub"), make_epub())
    assert [p.label for p in pages] == ["chapter 1", "chapter 2"]  # the cover image: no page
    assert pages[0].text.splitlines() == [
        "Chapter One: The Harbour",
        "The harbour froze in the winter of 1911. Ships waited outside for three weeks."]
    assert structure(pages[0]) == [("Chapter One: The Harbour", 0)]
    assert structure(pages[1]) == [("The Lighthouse", 1)]  # its own heading, not the <title>
    assert "x()" not in pages[1].text


CONTAINER = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:'
             'opendocument:xmlns:container"><rootfiles><rootfile full-path="{}" media-type='
             '"application/oebps-package+xml"/></rootfiles></container>')


def xhtml(body: str, title: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            f'<head><title>{title}</title></head><body>{body}</body></html>').encode()


def epub(files: dict[str, bytes], items: list[tuple[str, str, str]], spine: list[str],
         opf: str = "OEBPS/content.opf") -> bytes:
    """An EPUB: ``files`` by their path in the zip, the manifest ``items`` (id, href relative
    to the package document, media type) and the ``spine``'s ids."""
    import io

    manifest = "".join(f'<item id="{i}" href="{h}" media-type="{m}"/>' for i, h, m in items)
    refs = "".join(f'<itemref idref="{i}"/>' for i in spine)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", CONTAINER.format(opf))
        z.writestr(opf, '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                   f'version="3.0"><metadata/><manifest>{manifest}</manifest>'
                   f'<spine>{refs}</spine></package>')
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


XHTML = "application/xhtml+xml"


def test_chapter_names_are_resolved_as_links_escapes_fragments_and_parent_folders():
    data = epub({"OEBPS/Text/chapter one.xhtml": xhtml("<p>The first chapter.</p>"),
                 "Shared/notes.xhtml": xhtml("<p>Notes kept outside the package folder.</p>"),
                 "OEBPS/end.html": xhtml("<p>The end.</p>")},
                [("a", "Text/chapter%20one.xhtml#start", XHTML),
                 ("b", "../Shared/notes.xhtml", XHTML), ("c", "end.html", "text/html")],
                ["a", "b", "c"])
    pages = load(Path("links.epub"), data)
    assert [(p.page, p.label, p.text) for p in pages] == [
        (1, "chapter 1", "The first chapter."),
        (2, "chapter 2", "Notes kept outside the package folder."),
        (3, "chapter 3", "The end.")]


def test_a_package_document_at_the_root_of_the_zip_is_found():
    data = epub({"ch.xhtml": xhtml("<h2>Harbour</h2><p>It froze.</p>")},
                [("c", "ch.xhtml", XHTML)], ["c"], opf="book.opf")
    [page] = load(Path("root.epub"), data)
    assert page.text == "Harbour\nIt froze." and structure(page) == [("Harbour", 2)]


def test_chapters_are_numbered_by_the_ones_with_text_in_spine_order():
    data = epub({"OEBPS/a.xhtml": xhtml("<p>Alpha text.</p>"),
                 "OEBPS/b.xhtml": xhtml('<img src="p.png"/> <p>  </p>', title=""),
                 "OEBPS/c.xhtml": xhtml("<p>Gamma text.</p>"),
                 "OEBPS/unread.xhtml": xhtml("<p>In the manifest, not in the spine.</p>"),
                 "OEBPS/style.css": b"p { color: red }"},
                [("a", "a.xhtml", XHTML), ("b", "b.xhtml", XHTML), ("c", "c.xhtml", XHTML),
                 ("u", "unread.xhtml", XHTML), ("s", "style.css", "text/css")],
                ["c", "s", "b", "ghost", "a"])  # "ghost" is in no manifest: passed over
    pages = load(Path("order.epub"), data)
    assert [(p.label, p.text) for p in pages] == [("chapter 1", "Gamma text."),
                                                  ("chapter 2", "Alpha text.")]


def test_a_chapter_that_is_not_text_is_passed_over_and_the_others_are_read():
    data = epub({"OEBPS/a.xhtml": bytes(range(256)) * 40,
                 "OEBPS/b.xhtml": "<p>Café crème à Zürich.</p>".encode("cp1252")},
                [("a", "a.xhtml", XHTML), ("b", "b.xhtml", XHTML)], ["a", "b"])
    [page] = load(Path("mixed.epub"), data)
    assert (page.label, page.text) == ("chapter 1", "Café crème à Zürich.")


def test_a_spine_naming_a_missing_file_is_refused_with_its_name():
    data = epub({"OEBPS/a.xhtml": xhtml("<p>Here.</p>")},
                [("a", "a.xhtml", XHTML), ("b", "gone.xhtml", XHTML)], ["a", "b"])
    with pytest.raises(LoadError, match=r"^corrupt \.epub file \(spine names a missing file "
                                        r"'OEBPS/gone.xhtml'\)$"):
        load(Path("gap.epub"), data)


def zip_with(files: dict[str, bytes | str]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                    for i in range(9))
          + ']><package xmlns="http://www.idpf.org/2007/opf">&j;</package>')


@pytest.mark.parametrize("files", [
    {"OEBPS/content.opf": "<package/>"},  # no container
    {"META-INF/container.xml": CONTAINER.format("OEBPS/missing.opf")},
    {"META-INF/container.xml": "<container><rootfiles/></container>"},  # names no package
    {"META-INF/container.xml": CONTAINER.format("p.opf"), "p.opf": "<package><manifest>"},
    {"META-INF/container.xml": CONTAINER.format("p.opf"), "p.opf": LAUGHS},  # 10^10 bytes
], ids=["no-container", "missing-package", "no-rootfile", "broken-xml", "entity-bomb"])
def test_an_epub_without_a_readable_package_document_is_refused_in_one_line(files):
    with pytest.raises(LoadError) as e:
        load(Path("broken.epub"), zip_with(files))
    assert str(e.value).startswith("corrupt .epub file (no readable package document")
    assert "\n" not in str(e.value)


def test_a_book_whose_chapters_hold_no_text_gives_no_pages():
    data = make_epub(chapters=[("", "<p> </p>"), ("", "<script>only()</script>")])
    with pytest.raises(LoadError, match="^no text found$"):
        load(Path("empty.epub"), data)
