"""Structural lines of a page's text: titles, headings and other non-prose lines.

Each finder returns ``Page.structure`` entries: (start, end, level) offsets of a line's text
(without its newline); level 1-6 a heading, 0 the document title, 9 another non-prose line (a
table-of-contents entry, a lone page number). A structural line is its own unit for sentence
splitting, is never an answer sentence by itself, and gives the chunks below it their context.
"""
from __future__ import annotations

import re
import statistics

Structure = tuple[tuple[int, int, int], ...]

TITLE_MAX_WORDS = 12  # a title or heading line is short
TITLE_MAX_CHARS = 100
TOC, TITLE = 9, 0
PDF_HEADING = 2  # a PDF heading's level is not known; it sits below the title
PDF_SHORT_SHARE = 0.6  # a PDF heading line is at most this share of the page's full line

_MD_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+\S[^\n]*$", re.M)
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*(?:\d+|[ivxlcdm]+)\s*$|…{2,}\s*\d+\s*$", re.I)
_PAGE_NUMBER = re.compile(r"^\s*(?:(?:page|seite|p\.)\s*)?[-–—]?\s*(?:\d{1,5}|[ivxlcdm]{1,7})"
                          r"\s*[-–—]?\s*(?:(?:of|/|von)\s*\d{1,5})?\s*$", re.I)
#: a line ending in one of these words is a prose line broken by the layout, not a title
_OPEN_ENDS = frozenset("a an the and or but of to in on at by for with from that which who as "
                       "is are was were be its their his her".split())
_END_PUNCT = re.compile(r"[.!?:;,…\"'”’)\]-]$")


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's stripped text; blank lines give (i, i)."""
    out, pos = [], 0
    for line in text.split("\n"):
        lead = len(line) - len(line.lstrip())
        out.append((pos + lead, pos + len(line.rstrip())))
        pos += len(line) + 1
    return out


def titleish(line: str) -> bool:
    """Short, no end punctuation, starts like a title (capital letter or a section number)."""
    line = line.strip()
    return (0 < len(line) <= TITLE_MAX_CHARS and len(line.split()) <= TITLE_MAX_WORDS
            and not _END_PUNCT.search(line) and bool(re.match(r"[A-ZÀ-Þ0-9]", line))
            and bool(re.search(r"[^\W\d_]", line))
            and line.split()[-1].lower() not in _OPEN_ENDS)


def markdown(text: str) -> Structure:
    """``#`` heading lines (level = number of #)."""
    return tuple((m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end(),
                  len(m.group(1))) for m in _MD_HEADING.finditer(text))


def plain_text(text: str) -> Structure:
    """A short first line without end punctuation followed by a blank line (the title),
    Markdown ``#`` lines, and short title-like lines standing alone between blank lines."""
    found = {s: (s, e, lv) for s, e, lv in markdown(text)}
    lines = _lines(text)
    nonblank = [i for i, (s, e) in enumerate(lines) if e > s]
    if not nonblank:
        return ()
    first = nonblank[0]
    for i in nonblank:
        s, e = lines[i]
        if s in found:
            continue
        before_blank = i == 0 or lines[i - 1][1] == lines[i - 1][0]
        after_blank = i + 1 < len(lines) and lines[i + 1][1] == lines[i + 1][0]
        if not (after_blank and before_blank and titleish(text[s:e])):
            continue
        if i == first:
            found[s] = (s, e, TITLE)
        elif i + 2 < len(lines):  # a line standing alone at the very end is not a heading
            found[s] = (s, e, PDF_HEADING)
    return tuple(sorted(found.values()))


def pdf_page(text: str, first_page: bool = False) -> Structure:
    """Dot-leader (table of contents) lines and lone page numbers (level 9), and short
    title-like lines that stand apart from the prose around them (the first one on the first
    page is the title)."""
    lines = _lines(text)
    lengths = [e - s for s, e in lines if e > s]
    if not lengths:
        return ()
    # a full line's length: the 80th percentile, not the median, which a short page (a heading,
    # a paragraph's 3 lines and its short last one) pulled down so far that its heading no longer
    # counted as short and was glued to the answer sentence after it
    full = statistics.quantiles(lengths, n=5, method="inclusive")[-1] if len(lengths) > 1 \
        else lengths[0]
    out: list[tuple[int, int, int]] = []
    title_seen = not first_page
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        if e == s:
            continue
        if _DOT_LEADER.search(line) or _PAGE_NUMBER.match(line):
            out.append((s, e, TOC))
            continue
        prev = text[lines[i - 1][0]:lines[i - 1][1]] if i > 0 else ""
        ends_before = not prev or bool(re.search(r"[.!?:]\s*$", prev)) or \
            any(o[0] == lines[i - 1][0] for o in out)
        if ends_before and titleish(line) and len(line) <= PDF_SHORT_SHARE * max(full, 1) \
                and _next_starts_block(text, lines, i):
            out.append((s, e, TITLE if not title_seen else PDF_HEADING))
            title_seen = True
    return tuple(out)


def _next_starts_block(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    """The line after a heading starts a sentence (capital letter) or there is none."""
    for s, e in lines[i + 1:]:
        if e > s:
            return bool(re.match(r"[\"“(]?[A-ZÀ-Þ0-9•\-]", text[s:e]))
    return True
