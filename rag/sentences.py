"""Sentence boundaries as offsets. The spans tile the text: joined, they give it back exactly."""
from __future__ import annotations

import re
from typing import Sequence

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf",
    "fig", "figs", "no", "nos", "vol", "vols", "al", "inc", "ltd", "co", "corp", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "ca",
    "approx", "dept", "est", "gen", "gov", "sen", "rep", "col", "lt", "capt", "sgt", "pp", "p",
    "ch", "sec", "art", "op", "ed", "eds", "rev", "z.b", "bzw", "ggf", "usw", "vgl", "d.h",
}
# end punctuation, optional closing quotes/brackets, then whitespace, then a plausible start
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
_PARA = re.compile(r"\n[ \t]*\n\s*")
# a line that starts a unit of its own: a Markdown heading, a list item, a quote, and a
# spreadsheet row as the sheet loaders write it ("Row 7: Name: Ada; ..."), which has no end
# punctuation: without this an 11-row sheet was one 1,760-character "sentence"
_LINE = re.compile(r"\n(?=[ \t]*(?:#{1,6}\s|[-*+•]\s|\d{1,3}[.)]\s|>\s|Row \d+: ))")
_HEADING_LINE = re.compile(r"^[ \t]*#{1,6}\s[^\n]*\n", re.M)


def sentence_spans(text: str, structure: Sequence[Sequence[int]] = ()
                   ) -> list[tuple[int, int]]:
    """Return [(start, end)] covering ``text`` from 0 to len(text) without gaps or overlaps.

    Each span holds one sentence plus the whitespace after it. ``structure`` holds the
    (start, end, ...) offsets of structural lines (headings, titles, TOC lines): each is a unit
    of its own, never merged into the sentence after it, and nothing inside it is cut."""
    if not text:
        return []
    cuts = set()
    for m in _END.finditer(text):
        if not _is_abbreviation(text, m.start()):
            cuts.add(_next_non_space(text, m.end()))
    for rx in (_PARA, _LINE):
        for m in rx.finditer(text):
            cuts.add(m.end() if rx is _PARA else _next_non_space(text, m.end()))
    for m in _HEADING_LINE.finditer(text):
        cuts.add(_next_non_space(text, m.end()))
    for line in structure:
        a, b = line[0], line[1]
        cuts -= {c for c in cuts if a < c < b}
        cuts.update((a, _next_non_space(text, b)))
    bounds = sorted(c for c in cuts if 0 < c < len(text))
    starts = [0] + bounds
    ends = bounds + [len(text)]
    return [(s, e) for s, e in zip(starts, ends) if e > s]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, empty ones dropped."""
    return [t for s, e in sentence_spans(text) if (t := text[s:e].strip())]


def _next_non_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    j = dot
    while j > 0 and (text[j - 1].isalpha() or text[j - 1] == "."):
        j -= 1
    word = text[j:dot].lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # an initial: "J. Smith"
        return True
    return word in _ABBREV
