"""The page image of a PDF source, rendered here with pypdfium2 (no CDN, no browser PDF
viewer needed), with the cited span marked when pdfium finds its words on the page."""
from __future__ import annotations

import functools
import io
import re

from rag.errors import NotFoundError

SCALE = 1.5  # 108 dpi: readable on a screen, about 100-300 KB per page
MARK_RGBA = (250, 204, 21, 110)  # translucent yellow over the cited words
SEARCH_CHARS = 60  # pdfium's search is given the first characters of the span


def page_png(path: str, page: int, span: str = "", version: tuple = ()) -> bytes:
    """PNG of ``page`` (1-based) of the PDF at ``path``; ``span`` (text of that page) is
    marked. ``version`` (size, mtime) keys the cache so a changed file renders anew."""
    return _render(path, page, " ".join(span.split())[:SEARCH_CHARS], version)


@functools.lru_cache(maxsize=32)
def _render(path: str, page: int, needle: str, version: tuple) -> bytes:
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            raise NotFoundError(f"the PDF has no page {page}")
        pg = pdf[page - 1]
        image = pg.render(scale=SCALE).to_pil().convert("RGBA")
        boxes = _span_boxes(pg, needle) if needle else []
        if boxes:
            overlay = ImageDraw.Draw(image, "RGBA")
            height = pg.get_height()
            for left, bottom, right, top in boxes:  # PDF points, origin bottom-left
                overlay.rectangle([left * SCALE, (height - top) * SCALE,
                                   right * SCALE, (height - bottom) * SCALE], fill=MARK_RGBA)
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG", optimize=True)
        return out.getvalue()
    finally:
        pdf.close()


def _span_boxes(pg, needle: str) -> list[tuple[float, float, float, float]]:
    text = pg.get_textpage()
    words = re.sub(r"\s+", " ", needle).strip()
    for attempt in (words, " ".join(words.split()[:5])):  # line breaks differ: try less
        if not attempt:
            continue
        found = text.search(attempt, match_case=False).get_next()
        if found:
            index, _ = found
            count = len(" ".join(needle.split()))
            n = text.count_rects(index, min(count, text.count_chars() - index))
            return [text.get_rect(i) for i in range(n)]
    return []
