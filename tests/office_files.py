"""Real office files, written in the test by their own libraries (python-docx, python-pptx,
openpyxl, msoffcrypto-tool), and an EPUB written with zipfile (EPUB is a zip of XHTML files
named by a package document; no EPUB writer is installed)."""
from __future__ import annotations

import io
import zipfile

PARAGRAPHS = [f"Paragraph {i} says the bridge number {i} was built in {1900 + i}. "
              f"It carries {i * 100} cars a day." for i in range(30)]


def make_docx(footnote: str | None = None, paragraphs=PARAGRAPHS) -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Bridges of the Valley", 0)
    d.add_heading("Introduction", 1)
    d.add_paragraph("The valley has seven bridges. The oldest one is made of granite.")
    d.add_heading("Traffic", 2)
    for text in paragraphs:
        d.add_paragraph(text)
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("Bridge", "Length", "Material"), ("North", "120 m", "granite"),
                             ("South", "80 m", "steel")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("The last paragraph closes the report.")
    if footnote:
        _add_footnote_part(d, footnote)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _add_footnote_part(d, text: str) -> None:
    """A footnotes part related to the document, through python-docx's OPC API (it has no
    footnote API of its own)."""
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = (f'<w:footnotes xmlns:w="{w}">'
           '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
           '</w:footnote>'
           f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote>'
           '</w:footnotes>').encode()
    part = Part(PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, xml, d.part.package)
    d.part.relate_to(part, RT.FOOTNOTES)


def png(size=(40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def make_pptx(images_only: bool = False) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    if images_only:
        for _ in range(2):
            slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank layout
            slide.shapes.add_picture(io.BytesIO(png()), Inches(1), Inches(1))
    else:
        s1 = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        s1.shapes.title.text = "Quarterly results"
        s1.placeholders[1].text_frame.text = "Revenue grew by twelve percent in the spring."
        s1.notes_slide.notes_text_frame.text = "Mention the new warehouse in Lyon."
        s2 = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        s2.shapes.title.text = "Costs"
        low = s2.shapes.add_textbox(Inches(1), Inches(5), Inches(6), Inches(1))
        low.text_frame.text = "Shipping costs fell after the harbour opened."
        high = s2.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1))
        high.text_frame.text = "Energy costs doubled in the winter."
        rows = s2.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(6), Inches(1)).table
        for r, row in enumerate([("Item", "Cost"), ("Energy", "40000 EUR")]):
            for c, value in enumerate(row):
                rows.cell(r, c).text = value
        s3 = deck.slides.add_slide(deck.slide_layouts[6])  # a picture only: no page
        s3.shapes.add_picture(io.BytesIO(png()), Inches(1), Inches(1))
        s4 = deck.slides.add_slide(deck.slide_layouts[5])
        s4.shapes.title.text = "Outlook"
        box = s4.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1))
        box.text_frame.text = "The board expects flat sales next year."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def make_xlsx(extra_rows: int = 40, gap_to: int | None = None) -> bytes:
    """Two sheets; with ``gap_to`` a value far below the data, so that every row in between
    is empty (the million-empty-rows case)."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Budget"
    ws.append(["Department", "Budget", "Head"])
    ws.append(["Research", 120000, "Dr. Okafor"])
    ws.append(["Marketing", 45000.0, "Ms. Lindqvist"])
    ws.append([])
    ws.append(["Legal", None, "Mr. Haddad"])
    for i in range(extra_rows):
        ws.append([f"Team {i}", 1000 + i, f"Lead {i}"])
    if gap_to:
        ws.cell(row=gap_to, column=1, value="far away")
    staff = book.create_sheet("Staff")
    staff.append(["Name", "Room"])
    staff.append(["Amara", "B-204"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


CSV = ("city;population;river\nLyon;522000;Rhône\nGrenoble;158000;Isère\n"
       + "".join(f"Town {i};{1000 + i};Creek {i}\n" for i in range(60)))


def encrypt_office(data: bytes, password: str = "secret") -> bytes:
    import msoffcrypto.format.ooxml

    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def zip_bomb(name: str, expanded_mb: int) -> bytes:
    """A zip named like an office file whose member unpacks to ``expanded_mb`` MiB of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open(name, "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(expanded_mb):
                member.write(block)
    return buf.getvalue()


CHAPTERS = [("Chapter One: The Harbour", "<p>The harbour froze in the winter of 1911. "
             "Ships waited outside for three weeks.</p>"),
            ("Chapter Two: The Lighthouse", "<h1>The Lighthouse</h1><p>The keeper, Ines "
             "Moreau, lit the lamp every night for forty years.</p><script>x()</script>")]


def make_epub(chapters=CHAPTERS) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:'
                   'opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/'
                   'content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
                   '</container>')
        items, refs = ['<item id="cover" href="cover.png" media-type="image/png"/>'], []
        z.writestr("OEBPS/cover.png", png())
        # the spine order is the reverse of the file names: reading order must follow it
        for n, (title, body) in enumerate(chapters, start=1):
            name = f"text/ch{len(chapters) - n + 1}.xhtml"
            z.writestr(f"OEBPS/{name}", f'<?xml version="1.0" encoding="utf-8"?><html xmlns='
                       f'"http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
                       f'<body>{body}</body></html>')
            items.append(f'<item id="c{n}" href="{name}" media-type="application/xhtml+xml"/>')
            refs.append(f'<itemref idref="c{n}"/>')
        z.writestr("OEBPS/content.opf",
                   '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                   'version="3.0"><metadata/><manifest>' + "".join(items) + '</manifest>'
                   '<spine><itemref idref="cover"/>' + "".join(refs) + '</spine></package>')
    return buf.getvalue()


def lying_zip(name: str, expanded_mb: int, declared: int = 1000) -> bytes:
    """A zip whose directory lies: its one member unpacks to ``expanded_mb`` MiB but both the
    local header and the central directory declare ``declared`` bytes."""
    import struct

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, b"<" + b" " * (expanded_mb << 20))
    data = bytearray(buf.getvalue())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)
