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
MAX_SPAN_CHARS = 5000  # longest span marked (a passage is far shorter)


def page_png(path: str, page: int, span: str = "", version: tuple = ()) -> bytes:
    """PNG of ``page`` (1-based) of the PDF at ``path``; ``span`` (text of that page) is
    marked, all of it, across lines, with a translucent mark that leaves the words readable.
    ``version`` (size, mtime) keys the cache so a changed file renders anew."""
    return _render(path, page, " ".join(span.split())[:MAX_SPAN_CHARS], version)


@functools.lru_cache(maxsize=32)
def _render(path: str, page: int, needle: str, version: tuple) -> bytes:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            raise NotFoundError(f"the PDF has no page {page}")
        pg = pdf[page - 1]
        image = pg.render(scale=SCALE).to_pil().convert("RGBA")
        boxes = _span_boxes(pg, needle) if needle else []
        if boxes:  # drawn on a layer of its own, then blended: drawing straight onto the
            # page image would replace its pixels (an opaque bar over the words)
            layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
            overlay = ImageDraw.Draw(layer)
            height = pg.get_height()
            for left, bottom, right, top in boxes:  # PDF points, origin bottom-left
                overlay.rectangle([left * SCALE, (height - top) * SCALE,
                                   right * SCALE, (height - bottom) * SCALE], fill=MARK_RGBA)
            image = Image.alpha_composite(image, layer)
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG", optimize=True)
        return out.getvalue()
    finally:
        pdf.close()


def _span_boxes(pg, needle: str) -> list[tuple[float, float, float, float]]:
    """The rectangles of the span's characters: found by its first words (pdfium's search),
    then as many characters as the whole span has, across line breaks."""
    text = pg.get_textpage()
    words = re.sub(r"\s+", " ", needle).strip()[:SEARCH_CHARS]
    for attempt in (words, " ".join(words.split()[:5])):  # line breaks differ: try less
        if not attempt:
            continue
        found = text.search(attempt, match_case=False).get_next()
        if found:
            index, _ = found
            end = _span_end(text, needle, index)
            n = text.count_rects(index, min(end, text.count_chars()) - index)
            return [text.get_rect(i) for i in range(n)]
    return []


def _span_end(text, needle: str, start: int) -> int:
    """Where the span ends on the page: just past its last words, searched from its start
    (the page's own line breaks count as characters there, so a length alone falls short);
    when they are not found, the span's length plus a character per line break."""
    words = needle.split()
    for tail in (" ".join(words[-5:]), " ".join(words[-2:])):
        found = text.search(tail, index=start, match_case=False).get_next() if tail else None
        if found and found[0] >= start:
            return found[0] + found[1]
    return start + len(" ".join(words)) + needle.count(" ") // 10
