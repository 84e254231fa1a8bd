"""OCR figures (printed, never asserted), as issue 11 asks: seconds per scanned page and how
many of the original words OCR recovers.

Pages of a real text PDF (shared/eval/pdfs) are rendered to images (pypdfium2, 150 dpi, grey)
and wrapped back into a PDF without a text layer (Pillow); docchat's PDF loader then reads it,
OCRing every page at DOCCHAT_OCR_DPI (default 200) with Tesseract.

    .venv/bin/python benchmarks/bench_ocr.py [--pdf NAME] [--pages 3]
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PDFS = ROOT.parent / "shared" / "eval" / "pdfs"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]{3,}", text.lower())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf", default="federal-register-2020-17221.pdf")
    ap.add_argument("--pages", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("tesseract") is None:
        print("bench_ocr: tesseract is not installed (make ocr); no figures")
        return 0
    source = PDFS / args.pdf
    if not source.exists():
        print(f"bench_ocr: {source} is absent; no figures")
        return 0
    import pypdfium2 as pdfium

    from rag.ingest.loaders import load
    from rag.settings import Settings

    original = {p.page: p.text for p in load(source) if p.page <= args.pages}
    doc = pdfium.PdfDocument(source.read_bytes())
    images = [doc[i].render(scale=150 / 72).to_pil().convert("L")
              for i in range(min(args.pages, len(doc)))]
    scan = io.BytesIO()
    images[0].save(scan, format="PDF", resolution=150, save_all=True, append_images=images[1:])
    t = time.perf_counter()
    pages = load(Path("scan.pdf"), scan.getvalue())
    seconds = time.perf_counter() - t
    found = {p.page: p.text for p in pages}
    expected = [w for n in original for w in words(original[n])]
    got = {n: set(words(found.get(n, ""))) for n in original}
    hit = sum(w in got[n] for n in original for w in words(original[n]))
    print(f"OCR ({args.pdf}, {len(images)} pages, {Settings.from_env().ocr_dpi} dpi, "
          f"{os.cpu_count()} cores): {seconds / len(images):.2f} s/page; "
          f"{hit / max(1, len(expected)):.1%} of the text layer's words recovered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
