"""What a browser would see of the page's HTML fragments: the fragment parsed back
(html.parser), and small answers and sources to render (tests/ui/test_render_*.py,
test_escape.py)."""
from __future__ import annotations

from html.parser import HTMLParser

from rag.types import Answer, Source


class Parsed(HTMLParser):
    """Tags, attributes and the visible text of an HTML fragment."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""
        self.marks: list[str] = []
        self._in_mark = 0
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_mark += tag == "mark"
        if tag == "mark":
            self.marks.append("")

    def handle_endtag(self, tag):
        self._in_mark -= tag == "mark"

    def handle_data(self, data):
        self.text += data
        if self._in_mark:
            self.marks[-1] += data


def source(n=1, text="Alpha beta. The hall burned. Gamma delta.", start=100, highlights=()):
    return Source(n=n, path=f"/docs/file{n}.txt", page=3, start=start, end=start + len(text),
                  text=text, score=0.5, highlights=highlights)


def answer(sentences, sources, abstained=False):
    return Answer(question="q", answer="a", abstained=abstained, sentences=tuple(sentences),
                  sources=tuple(sources))
