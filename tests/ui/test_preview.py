"""The page image of a PDF source marks the whole cited span, across lines, with a
translucent mark: tested by reading the pixels under the words (issue 19, item 3: an opaque
bar hid the sentence and stopped mid-sentence)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from ui.preview import SCALE, page_png

LINES = ["The old bridge over the Venta was closed in 1987 after the",
         "spring flood of that year, and the new bridge opened in 1991",
         "with four lanes and a path for bicycles.",
         "An unrelated line about the town library follows here."]
SPAN = " ".join(LINES[:3])


def embedded_font_pdf(path: Path) -> Path:
    """A PDF written by reportlab with a TrueType font embedded (Vera, shipped with it)."""
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Vera", str(Path(reportlab.__file__).parent / "fonts" /
                                               "Vera.ttf")))
    pdf = canvas.Canvas(str(path))
    pdf.setFont("Vera", 12)
    for i, line in enumerate(LINES):
        pdf.drawString(72, 720 - 16 * i, line)
    pdf.save()
    return path


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def word_box(path: Path, word: str, line: int) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) of ``word`` on line ``line``, from pdfium's own char boxes."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pg, text = pdf[0], pdf[0].get_textpage()
        all_text = text.get_text_range()
        start = all_text.index(word, sum(len(ln) + 2 for ln in LINES[:line]) - 2 * (line > 0))
        boxes = [text.get_charbox(i) for i in range(start, start + len(word))]
        h = pg.get_height()
        left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
        bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
        return (int(left * SCALE), int((h - top) * SCALE), int(right * SCALE) + 1,
                int((h - bottom) * SCALE) + 1)
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    path = embedded_font_pdf(tmp_path_factory.mktemp("pdf") / "bridge.pdf")
    plain = pixels(page_png(str(path), 1, "", (1, 1)))
    marked = pixels(page_png(str(path), 1, SPAN, (1, 1)))
    return path, plain, marked


def is_marked(plain: np.ndarray, marked: np.ndarray, box) -> bool:
    """The background under the box turned yellow (blue channel down, red and green up)."""
    x0, y0, x1, y1 = box
    bg = plain[y0:y1, x0:x1].sum(axis=2) > 700  # white paper around the glyphs
    if not bg.any():
        return False
    p, m = plain[y0:y1, x0:x1][bg], marked[y0:y1, x0:x1][bg]
    return bool((m[:, 2] < p[:, 2] - 40).mean() > 0.8 and (m[:, 0] > 200).mean() > 0.8)


@pytest.mark.parametrize("word, line", [("The", 0), ("1987", 0), ("spring", 1), ("1991", 1),
                                        ("bicycles", 2)])
def test_every_word_of_the_span_is_marked_across_its_lines(rendered, word, line):
    path, plain, marked = rendered
    assert is_marked(plain, marked, word_box(path, word, line)), word


def test_the_words_stay_readable_under_the_mark(rendered):
    path, plain, marked = rendered
    x0, y0, x1, y1 = word_box(path, "1987", 0)
    ink = plain[y0:y1, x0:x1].sum(axis=2) < 200  # the glyphs' dark pixels
    assert ink.sum() > 10
    under = marked[y0:y1, x0:x1][ink]
    assert (under.sum(axis=1) < 300).mean() > 0.8  # still dark: the mark is translucent


def test_what_is_not_cited_is_not_marked(rendered):
    path, plain, marked = rendered
    assert not is_marked(plain, marked, word_box(path, "library", 3))
