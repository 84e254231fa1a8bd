"""OCR for PDF pages that have no text layer (scans): pypdfium2 renders the page, Tesseract
(Debian's tesseract-ocr, run as a subprocess, offline, models from tesseract-ocr-LANG) reads
it. Only pages without a text layer are ever OCRed. Without the tesseract program such pages
are skipped with the reason "no OCR engine" and everything else still works."""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass

from rag.errors import LoadError
from rag.ingest.formats.pagetext import PageText

log = logging.getLogger(__name__)

#: Appended to a page's label when its text came from OCR; rag.ingest.places shows "OCR text".
OCR_MARK = "[OCR]"


BLANK_CONTRAST = 16  # grey levels between the darkest and lightest pixel of an empty page


def engine() -> str | None:
    """The tesseract program, or None when it is not installed."""
    return shutil.which("tesseract")


@dataclass(frozen=True)
class OcrLimits:
    """What OCR of one file may cost (issue 20, item 3: a 574-byte page of 10,000 x 10,000
    points rendered to 5.3 GB; 2,000 blank pages took 25 minutes)."""

    page_seconds: float = 120.0  # one page's Tesseract run
    max_pixels: int = 40_000_000  # a rendered page: a larger page is rendered at a lower dpi
    max_pages: int = 500  # pages OCRed per file; the rest are left out, saying so
    file_seconds: float = 900.0  # all OCR of one file; the rest left out, saying so


def render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """The render scale for a page: ``dpi``, lowered so that the image has at most
    ``max_pixels`` pixels (decided from the page's size, before anything is rendered)."""
    scale = dpi / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0) * scale * scale
    if area > max_pixels:
        scale *= (max_pixels / area) ** 0.5
    return scale


def blank(image) -> bool:
    """A page with nothing on it (a scanner's empty sheet): no need to run Tesseract."""
    low, high = image.convert("L").getextrema()
    return high - low < BLANK_CONTRAST


def read_pages(data: bytes, numbers: list[int], dpi: int, lang: str,
               page_seconds: float | OcrLimits) -> dict[int, PageText]:
    """OCR text of the 0-based pages ``numbers`` of the PDF ``data``; a page that fails to
    render or read, or takes longer than its budget, is logged and left out. Raises
    LoadError when there is no engine. (OCR has its own budgets, per page and per file: the
    per-file DOCCHAT_READ_SECONDS would cut a long scanned book short.) Pages past
    ``max_pages`` or the file's time are not read (``complete`` says so)."""
    limits = page_seconds if isinstance(page_seconds, OcrLimits) else \
        OcrLimits(page_seconds=page_seconds)
    page_seconds = limits.page_seconds
    started = time.monotonic()
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
        for count, i in enumerate(numbers):
            if count >= limits.max_pages or time.monotonic() - started > limits.file_seconds:
                break
            try:
                width, height = pdf[i].get_size()
                scale = render_scale(width, height, dpi, limits.max_pixels)
                image = pdf[i].render(scale=scale).to_pil()
                if blank(image):
                    texts[i] = PageText()
                    continue
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
        limits = OcrLimits(page_seconds=settings.ocr_page_seconds,
                           max_pixels=settings.ocr_max_pixels,
                           max_pages=settings.ocr_max_pages,
                           file_seconds=settings.ocr_file_seconds)
        texts = read_pages(data, missing, settings.ocr_dpi, settings.ocr_lang, limits)
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
    if len(missing) > settings.ocr_max_pages and len(texts) >= settings.ocr_max_pages:
        why = (f"OCR stopped after {settings.ocr_max_pages:,} pages (DOCCHAT_OCR_MAX_PAGES); "
               f"{len(missing) - len(texts):,} pages left out")
        log.warning("%s: %s", path, why)
        return kept, why
    if len(texts) < len(missing):
        why = (f"OCR of {len(missing) - len(texts):,} pages was not done (a page failed, or "
               "the file's OCR time, DOCCHAT_OCR_FILE_SECONDS, ran out)")
        log.warning("%s: %s", path, why)
        return kept, why
    return kept, ("OCR found no text" if not all(texts.values()) else "")
