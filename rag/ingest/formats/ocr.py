"""OCR for PDF pages that have no text layer (scans): pypdfium2 renders the page, Tesseract
(Debian's tesseract-ocr, run as a subprocess, offline, models from tesseract-ocr-LANG) reads
it. Only pages without a text layer are ever OCRed. Without the tesseract program such pages
are skipped with the reason "no OCR engine" and everything else still works."""
from __future__ import annotations

import io
import logging
import shutil
import subprocess

from rag.errors import LoadError
from rag.ingest.formats.pagetext import PageText

log = logging.getLogger(__name__)

#: Appended to a page's label when its text came from OCR; rag.ingest.places shows "OCR text".
OCR_MARK = "[OCR]"


def engine() -> str | None:
    """The tesseract program, or None when it is not installed."""
    return shutil.which("tesseract")


def read_pages(data: bytes, numbers: list[int], dpi: int, lang: str,
               page_seconds: float) -> dict[int, PageText]:
    """OCR text of the 0-based pages ``numbers`` of the PDF ``data``; a page that fails to
    render or read, or takes longer than ``page_seconds``, is logged and left out. Raises
    LoadError when there is no engine. (OCR has its own per-page budget: the per-file
    DOCCHAT_READ_SECONDS would cut a long scanned book short.)"""
    program = engine()
    if program is None:
        raise LoadError("no OCR engine (install Debian's tesseract-ocr and tesseract-ocr-eng)")
    import pypdfium2 as pdfium

    texts: dict[int, PageText] = {}
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as e:  # noqa: BLE001 - pdfium refuses what it cannot open
        log.warning("cannot render the PDF for OCR: %s", e)
        return texts
    try:
        for i in numbers:
            try:
                image = pdf[i].render(scale=dpi / 72).to_pil()
                png = io.BytesIO()
                image.save(png, format="PNG")
                run = subprocess.run([program, "stdin", "stdout", "-l", lang],
                                     input=png.getvalue(), capture_output=True,
                                     timeout=page_seconds)
            except subprocess.TimeoutExpired:
                log.warning("page %d: OCR took longer than %g s (DOCCHAT_OCR_PAGE_SECONDS); "
                            "left out", i + 1, page_seconds)
                continue
            except Exception as e:  # noqa: BLE001 - one bad page must not lose the others
                log.warning("page %d: cannot render for OCR: %s", i + 1, e)
                continue
            if run.returncode != 0:
                log.warning("page %d: tesseract failed: %s", i + 1,
                            run.stderr.decode(errors="replace").strip()[-300:])
                continue
            out = PageText()
            for line in run.stdout.decode("utf-8", errors="replace").splitlines():
                out.add(line)
            texts[i] = out
    finally:
        pdf.close()
    return texts


def complete(path: str, data: bytes, pages: list, n_pages: int, settings) -> tuple[list, str]:
    """``pages`` (a PDF's text-layer pages, Page objects) with OCR pages added for the page
    numbers that have no text, in page order; and why some pages still have none ("" when
    none is missing)."""
    have = {p.page for p in pages if p.text.strip()}
    missing = [i for i in range(n_pages) if i + 1 not in have]
    if not missing:
        return pages, ""
    if not settings.ocr:
        return pages, "OCR is off (DOCCHAT_OCR)"
    try:
        texts = read_pages(data, missing, settings.ocr_dpi, settings.ocr_lang,
                           settings.ocr_page_seconds)
    except LoadError as e:
        if "OCR engine" in str(e):
            log.warning("%s: %d page(s) without a text layer skipped: %s", path,
                        len(missing), e)
            return pages, str(e)
        raise
    labels = {p.page: p.label for p in pages}
    kept = [p for p in pages if p.page in have]
    for i, out in texts.items():
        if out:
            printed = labels.get(i + 1, "")
            kept.append(out.page(path, i + 1, f"{printed} {OCR_MARK}".strip()))
    kept.sort(key=lambda p: p.page)
    return kept, ("OCR found no text" if len(texts) < len(missing) or
                  not all(texts.values()) else "")
