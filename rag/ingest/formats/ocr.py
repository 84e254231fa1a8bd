"""OCR for PDF pages that have no text layer (scans): pypdfium2 renders the page, Tesseract
(Debian's tesseract-ocr, run as a subprocess, offline, models from tesseract-ocr-LANG) reads
it. Only pages without a text layer are ever OCRed. Without the tesseract program such pages
are skipped with the reason "no OCR engine" and everything else still works."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rag.errors import LoadError
from rag.ingest.formats import ocr_worker
from rag.ingest.formats.pagetext import PageText

log = logging.getLogger(__name__)

#: Appended to a page's label when its text came from OCR; rag.ingest.places shows "OCR text".
OCR_MARK = "[OCR]"


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
    max_mb: float = 2048.0  # address space of the process that renders and reads the pages


def read_pages(data: bytes, numbers: list[int], dpi: int, lang: str,
               page_seconds: float | OcrLimits) -> dict[int, PageText]:
    """OCR text of the 0-based pages ``numbers`` of the PDF ``data``; a page that fails to
    render or read, or takes longer than its budget, is logged and left out. Raises
    LoadError when there is no engine. (OCR has its own budgets, per page and per file: the
    per-file DOCCHAT_READ_SECONDS would cut a long scanned book short.) Pages past
    ``max_pages`` or the file's time are not read (``complete`` says so)."""
    limits = page_seconds if isinstance(page_seconds, OcrLimits) else \
        OcrLimits(page_seconds=page_seconds)
    program = engine()
    if program is None:
        raise LoadError("no OCR engine (install Debian's tesseract-ocr and tesseract-ocr-eng)")
    job = {"numbers": list(numbers), "dpi": dpi, "lang": lang, "program": program,
           "page_seconds": limits.page_seconds, "max_pixels": limits.max_pixels,
           "max_pages": limits.max_pages, "file_seconds": limits.file_seconds,
           "max_mb": limits.max_mb}
    # a process of its own, under a memory cap: what a hostile page costs is its problem
    # (glibc reserves 64 MB of address space per malloc arena, up to 8 per core: Tesseract's
    # threads on a many-core machine would spend the cap on reservations alone)
    proc = subprocess.Popen([sys.executable, "-I", str(Path(ocr_worker.__file__)),
                             json.dumps(job)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MALLOC_ARENA_MAX": "2"})
    try:
        out, err = proc.communicate(data, timeout=limits.file_seconds + limits.page_seconds
                                    + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        log.warning("OCR took longer than %g s (DOCCHAT_OCR_FILE_SECONDS); stopped",
                    limits.file_seconds)
    if proc.returncode not in (0, None, -9):
        log.warning("OCR stopped (exit %s; memory cap %g MB, DOCCHAT_OCR_MAX_MB): %s",
                    proc.returncode, limits.max_mb,
                    err.decode(errors="replace").strip()[-300:])
    texts: dict[int, PageText] = {}
    for raw in out.decode("utf-8", errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:  # a line cut short by a killed worker
            continue
        i = line.get("page")
        if i is None:
            log.warning("%s", line.get("error", "OCR failed"))
            continue
        if "error" in line:
            log.warning("page %d: %s; left out", i + 1, line["error"])
            continue
        page = PageText()
        for text in line.get("text", "").splitlines():
            page.add(text)
        texts[i] = page
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
                           file_seconds=settings.ocr_file_seconds,
                           max_mb=settings.ocr_max_mb)
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
        why = (f"OCR of {len(missing) - len(texts):,} pages was not done (a page failed or "
               "needed more than DOCCHAT_OCR_MAX_MB, or the file's OCR time, "
               "DOCCHAT_OCR_FILE_SECONDS, ran out; the log says which)")
        log.warning("%s: %s", path, why)
        return kept, why
    return kept, ("OCR found no text" if not all(texts.values()) else "")
