"""Scanned PDF pages (no text layer) are read with OCR, and only those; without the engine or
with OCR off they are skipped with a reason. The scan is made here: a real text PDF page is
rendered to an image (pypdfium2) and wrapped back into a PDF without a text layer (Pillow)."""
from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest

from rag.errors import LoadError, SettingsError
from rag.ingest.loaders import load
from rag.ingest.places import place

SCANNED = ["The lighthouse keeper Ines Moreau lit the lamp every night for forty years.",
           "In the winter of 1911 the harbour froze and the ships waited outside.",
           "The granite bridge was finished in 1902 after four years of hard work.",
           "Fishermen sold cod, herring and mackerel on the northern quay each morning.",
           "Her daughter Colette kept the logbook and wrote down every passing ship."]


def text_pdf(pages: list[list[str]]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for lines in pages:
        pdf.setFont("Helvetica", 12)
        for i, line in enumerate(lines):
            pdf.drawString(72, 760 - 20 * i, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def scanned(pdf: bytes, dpi: int = 150) -> bytes:
    """Every page of ``pdf`` as a picture: the same pages, no text layer."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    images = [doc[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(doc))]
    doc.close()
    out = io.BytesIO()
    images[0].save(out, format="PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 and 3 with a text layer, page 2 a scan."""
    from pypdf import PdfReader, PdfWriter

    text = PdfReader(io.BytesIO(text_pdf([["Page one has a real text layer."], [],
                                           ["Page three has one too."]])))
    scan = PdfReader(io.BytesIO(scanned(text_pdf([SCANNED]))))
    writer = PdfWriter()
    for page in (text.pages[0], scan.pages[0], text.pages[2]):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def need_tesseract() -> None:
    if shutil.which("tesseract") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tesseract is missing: `make setup` installs it (the ocr target)")
        pytest.skip("tesseract is not installed (make ocr)")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def test_only_the_page_without_a_text_layer_is_ocred_and_its_words_are_recovered():
    need_tesseract()
    pages = load(Path("mixed.pdf"), mixed_pdf())
    assert [(p.page, place(p.page, p.label)) for p in pages] == [
        (1, "page 1"), (2, "page 2, OCR text"), (3, "page 3")]
    assert pages[0].text.strip() == "Page one has a real text layer."
    expected = words(" ".join(SCANNED))
    got = set(words(pages[1].text))
    recovered = sum(w in got for w in expected) / len(expected)
    assert recovered >= 0.95, (recovered, pages[1].text)


def test_with_ocr_off_a_scan_is_skipped_saying_so(monkeypatch):
    monkeypatch.setenv("DOCCHAT_OCR", "off")
    pages = load(Path("mixed.pdf"), mixed_pdf())
    assert [p.page for p in pages] == [1, 3]
    with pytest.raises(LoadError, match=r"no text layer.*OCR is off \(DOCCHAT_OCR\)"):
        load(Path("scan.pdf"), scanned(text_pdf([SCANNED])))


def test_without_an_ocr_engine_scanned_pages_are_skipped_with_that_reason(monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a real lookup that finds no tesseract
    assert [p.page for p in load(Path("mixed.pdf"), mixed_pdf())] == [1, 3]
    with pytest.raises(LoadError, match="no OCR engine"):
        load(Path("scan.pdf"), scanned(text_pdf([SCANNED])))


def test_a_bad_ocr_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("DOCCHAT_OCR", "maybe")
    with pytest.raises(SettingsError, match="DOCCHAT_OCR"):
        load(Path("scan.pdf"), scanned(text_pdf([SCANNED])))


@pytest.mark.slow
def test_a_question_on_the_scanned_page_is_answered_citing_it(tmp_path):
    need_tesseract()
    from rag import Settings, ask
    from rag.index import Index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.pdf").write_bytes(mixed_pdf())
    root = tmp_path / "index"
    idx = Index.open(root, Settings.from_env(index_dir=str(root)), create=True)
    idx.update([docs])
    answer = ask(idx, "Who kept the logbook?")
    assert not answer.abstained
    cited = {n for s in answer.sentences for n in s.citations}
    sources = [s for s in answer.sources if s.n in cited]
    assert sources and all(s.page == 2 for s in sources)
    assert "Colette" in " ".join(s.text for s in answer.sentences if s.citations)
    assert place(sources[0].page, sources[0].label) == "page 2, OCR text"


def test_the_source_panel_and_the_terminal_say_ocr_text():
    from rag.render_text import render_answer
    from rag.types import Answer, Sentence, Source
    from ui.render_sources import sources_html

    text = "Her daughter Colette kept the logbook."
    src = Source(n=1, path="/docs/harbour.pdf", page=2, start=0, end=len(text), text=text,
                 score=0.9, label="[OCR]", highlights=((0, len(text)),))
    answer = Answer(question="Who kept the logbook?", answer=text, abstained=False,
                    sentences=(Sentence(text, (1,)),), sources=(src,))
    assert "page 2, OCR text" in sources_html(answer)
    assert "harbour.pdf, page 2, OCR text," in render_answer(answer)


# ------------------------------------------------------------------ OCR limits (issue 20, item 3)
def blank_pages_pdf(n: int, size: float = 595) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(size, size))
    for _ in range(n):
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def test_a_574_byte_giant_page_and_many_blank_pages_cost_little(tmp_path):
    """A 10,000-point page took 5.3 GB; 2,000 blank pages 25 minutes. Now the page is read
    at a capped size and blank pages are recognised without Tesseract."""
    import resource
    import time

    need_tesseract()
    giant = tmp_path / "giant.pdf"
    giant.write_bytes(blank_pages_pdf(1, 10_000))
    many = tmp_path / "blank.pdf"
    many.write_bytes(blank_pages_pdf(300))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    for path in (giant, many):
        with pytest.raises(LoadError, match="no text layer"):
            load(Path(path.name), path.read_bytes())
    seconds = time.perf_counter() - t
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert seconds < 60 and grown_mb < 600, (seconds, grown_mb)


def test_ocr_stops_after_its_page_cap_and_keeps_what_it_read(monkeypatch):
    need_tesseract()
    monkeypatch.setenv("DOCCHAT_OCR_MAX_PAGES", "2")
    pdf = scanned(text_pdf([[line] for line in SCANNED]))  # five scanned pages
    pages = load(Path("scan.pdf"), pdf)
    assert [p.page for p in pages] == [1, 2]
    assert "lighthouse" in words(pages[0].text)


def test_a_page_that_needs_more_memory_than_the_ocr_cap_fails_alone_not_the_process(
        monkeypatch, caplog):
    """Rendering and Tesseract run in a process of their own under DOCCHAT_OCR_MAX_MB: a page
    of 14,400 points rendered uncapped (here 1,000 MP, 4 GB of pixels; uncapped it took 3 GB)
    fails in that process, in a moment, and the indexing process does not grow."""
    import resource
    import time

    from reportlab.pdfgen import canvas

    need_tesseract()
    monkeypatch.setenv("DOCCHAT_OCR_MAX_MB", "300")
    monkeypatch.setenv("DOCCHAT_OCR_MAX_PIXELS", "1000000000")
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(14_400, 14_400))
    pdf.rect(100, 7_000, 5_000, 300, fill=1)  # a drawing, no text layer, not blank
    pdf.showPage()
    pdf.save()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with caplog.at_level("WARNING"), pytest.raises(LoadError, match="DOCCHAT_OCR_MAX_MB"):
        load(Path("giant-drawing.pdf"), buf.getvalue())
    assert time.perf_counter() - t < 30
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 150
    assert "more than the OCR memory cap, 300 MB (DOCCHAT_OCR_MAX_MB)" in caplog.text
