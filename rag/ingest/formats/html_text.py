"""Visible text of an HTML document in one streaming pass (issue 10: linear time).

The stdlib ``html.parser`` tokenizer calls back for each tag and text node; we keep no tree,
only a few counters, so cost grows with the file's length and not with its nesting (the old
BeautifulSoup pass rewrote the tree around every block tag: 50,000 nested divs took minutes).
Block elements end a line, inline ones (a, b, sub) do not; h1-h6 become heading lines and
th table-header lines in Page.structure. The <title> is not visible text: it is kept (as the
document title, level 0) only when the page has no heading of its own."""
from __future__ import annotations

from html.parser import HTMLParser

from rag.ingest.formats.pagetext import OTHER, TITLE, Deadline, PageText

HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe",
                    "object", "math"})
BLOCKS = frozenset({"address", "article", "aside", "blockquote", "br", "caption", "dd",
                    "details", "div", "dl", "dt", "figcaption", "figure", "footer", "form",
                    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
                    "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
                    "body", "html", "option", "button", "textarea", "select"})
LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6, "th": OTHER}
#: What may stand in <head>: any other element, or text, begins the body (HTML lets a page
#: leave out both </head> and <body>).
IN_HEAD = frozenset({"head", "html", "title", "base", "link", "meta", "style", "script",
                     "noscript", "template"})
FEED = 1 << 16  # characters fed to the tokenizer between two looks at the clock


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, int | None]] = []
        self.title = ""
        self._hidden: dict[str, int] = {}  # open hidden elements by name (nesting counted)
        self._buf: list[str] = []
        self._level: int | None = None
        self._in_title = False
        self._pre = 0  # open <pre> elements: their line breaks are the text's own

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        self._buf.clear()
        if text:
            self.lines.append((text, self._level))

    def handle_starttag(self, tag, attrs):
        if tag not in IN_HEAD:  # a missing </head> must not hide the whole page
            self._hidden.pop("head", None)
        if tag == "title":  # inside <head>, unless an <svg> tooltip
            self._in_title = not any(v for k, v in self._hidden.items() if k != "head")
            return
        if tag in HIDDEN:
            self._hidden[tag] = self._hidden.get(tag, 0) + 1
            return
        if tag in BLOCKS:
            self._flush()
            if tag in LEVELS:
                self._level = LEVELS[tag]
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
            return
        if tag in HIDDEN:
            if self._hidden.get(tag):
                self._hidden[tag] -= 1
            return
        if tag in BLOCKS:
            self._flush()
            if tag in LEVELS:
                self._level = None
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if data.strip() and [k for k, v in self._hidden.items() if v] == ["head"]:
            self._hidden.pop("head")  # text cannot stand in <head> either
        if not any(self._hidden.values()):
            if self._pre:  # code and verse keep their lines
                *whole, data = data.split("\n")
                for line in whole:
                    self._buf.append(line)
                    self._flush()
            self._buf.append(data)

    def close(self):
        super().close()
        self._flush()


def extract(markup: str, deadline: Deadline | None = None) -> PageText:
    """The visible text of ``markup`` as page lines with their structure."""
    parser = _Visible()
    for i in range(0, len(markup), FEED):
        parser.feed(markup[i:i + FEED])
        if deadline is not None:
            deadline.check()
    parser.close()
    out = PageText()
    title = " ".join(parser.title.split())
    if title and not any(level in range(1, 7) for _, level in parser.lines):
        out.add(title, TITLE)
    for text, level in parser.lines:
        out.add(text, level)
    return out
