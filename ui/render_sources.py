"""Answer -> HTML for the Sources panel: each answer's numbered passages with their cited
spans marked, PDF passages reflowed, a PDF's page link and image, retrieval rank and
relevance. The chat's citation links (ui/render_chat.py) point at ``src_id``. All text goes
through ``text_html`` (ui/escape.py).
"""
from __future__ import annotations

import re
from typing import Sequence

from rag import place
from rag.types import Answer, Source, document_id
from ui.escape import name_html, text_html

SNIPPET = 600  # characters of passage shown around the cited spans


def src_id(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn``: unique on the page, so an
    older answer's ``[n]`` opens that answer's source, not the latest one's."""
    return f"src-{turn}-{n}"


#: Markdown a sentence or passage may start a line with: a heading's #s, a list item's
#: marker, a quote's >. Shown as structure, not as characters (the stored text is unchanged).
MD_LINE = re.compile(r"(?m)^[ \t]*(#{1,6}[ \t]+|[-*+][ \t]+|>[ \t]?)")


def _markdown_view(text: str):
    """text[a:b] for display, without Markdown line markers (a list item's marker becomes
    a bullet); offsets stay those of ``text``, so highlights need no mapping."""
    marks = [(m.start(1), m.end(1), m.group(1)[0]) for m in MD_LINE.finditer(text)]

    def view(a: int, b: int) -> str:
        out, pos = [], a
        for start, end, kind in marks:
            if end <= a or start >= b:
                continue
            out.append(text[pos:max(start, a)])
            if kind in "-*+" and start >= a:
                out.append("• ")
            pos = min(end, b)
        out.append(text[pos:b])
        return "".join(out)
    return view


def _merged(spans, lo: int, hi: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


_SOFT_HYPHEN = re.compile(r"([a-z])-[ \t]*\n[ \t]*([a-z])")
_HARD_HYPHEN = re.compile(r"(\w)-[ \t]*\n[ \t]*(\w)")
_LINE_BREAK = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?!\n)")


def reflow(text: str) -> str:
    """Display text of a PDF passage: the PDF's hard line breaks become spaces, a word split
    by a hyphen at a line end is joined ("infor-\nmation" -> "information", "FAA-\napproved"
    -> "FAA-approved"); blank lines (paragraphs) stay. Only the display changes: offsets
    always refer to the stored page text."""
    text = _SOFT_HYPHEN.sub(r"\1\2", text)
    text = _HARD_HYPHEN.sub(r"\1-\2", text)
    return _LINE_BREAK.sub(" ", text)


def passage_html(src: Source) -> str:
    """The passage with its cited spans in <mark>; long passages trimmed around them.
    PDF text is reflowed for display (see ``reflow``); Markdown line markers are not
    shown (a heading's #s, a list item's marker as a bullet)."""
    shown = reflow if src.path.lower().endswith(".pdf") else (lambda t: t)
    spans = _merged(src.highlights, src.start, src.end)
    text = src.text
    if src.path.lower().endswith((".md", ".markdown")):
        view = _markdown_view(text)
    else:
        def view(a: int, b: int) -> str:
            return shown(text[a:b])
    lo, hi = 0, len(text)
    if len(text) > SNIPPET and spans:
        lo = max(0, spans[0][0] - src.start - SNIPPET // 3)
        hi = min(len(text), max(spans[-1][1] - src.start + SNIPPET // 3, lo + SNIPPET))
    elif len(text) > SNIPPET:
        hi = SNIPPET
    out, pos = ["…" if lo else ""], lo
    for a, b in spans:
        a, b = max(a - src.start, lo), min(b - src.start, hi)
        if a >= b:
            continue
        out.append(text_html(view(pos, a)))
        out.append(f'<mark class="dc-mark">{text_html(view(a, b))}</mark>')
        pos = b
    out.append(text_html(view(pos, hi)))
    out.append("…" if hi < len(text) else "")
    return "".join(out)


def pdf_html(src: Source) -> str:
    """For a PDF source: a link to the original at that page, and the page image (rendered
    by the server, loaded only when opened) with the cited span marked."""
    if not src.path.lower().endswith(".pdf"):
        return ""
    doc = document_id(src.path)
    lo, hi = (min(a for a, _ in src.highlights), max(b for _, b in src.highlights)) \
        if src.highlights else (src.start, src.end)
    return (f'<div class="dc-pdf"><a href="/api/documents/{doc}/file#page={src.page}" '
            f'target="_blank" rel="noopener">Open the PDF at page {src.page}</a>'
            f'<details><summary>Page image</summary><img class="dc-page" loading="lazy" '
            f'alt="Page {src.page} of {name_html(src.path)}" '
            f'src="/api/documents/{doc}/pages/{src.page}.png?start={lo}&amp;end={hi}">'
            f'</details></div>')


def relevance(score: float, best: float) -> str:
    """A plain label for a passage's retrieval score relative to the best one retrieved for
    the same question: monotonic in the score, so it never contradicts the retrieval rank."""
    share = score / best if best > 0 else 0.0
    return "high" if share >= 0.66 else "medium" if share >= 0.33 else "low"


def retrieval_ranks(sources) -> dict[int, int]:
    """Source number -> its rank by retrieval score (the panel lists cited sources first)."""
    order = sorted(sources, key=lambda s: (-s.score, s.n))
    return {s.n: r for r, s in enumerate(order, 1)}


def _turn_html(answer: Answer, turn: int) -> str:
    cited = {n for s in answer.sentences for n in s.citations}
    title = "Closest passages (not an answer)" if answer.abstained else "Sources"
    items = []
    ranks = retrieval_ranks(answer.sources)
    best = max((s.score for s in answer.sources), default=0.0)
    for src in answer.sources:
        page = text_html(place(src.page, src.label, src.text))  # "slide 3", "page 2, OCR text"
        state = "closest, not an answer" if answer.abstained else \
            "cited" if src.n in cited else "retrieved, not cited"
        rank = f"retrieval rank {ranks[src.n]} of {len(answer.sources)}" + (
            "" if answer.abstained else f" · relevance {relevance(src.score, best)}")
        detail = text_html(f"{src.path} · characters {src.start}–{src.end} of the page · "
                           f"retrieval score {src.score:.3f}")
        items.append(
            f'<div class="dc-src{" dc-cited" if src.n in cited else ""}" '
            f'id="{src_id(turn, src.n)}" data-n="{src.n}">'
            f'<div class="dc-src-head" title="{detail}"><span class="dc-n">[{src.n}]</span> '
            f'<span class="dc-file">{name_html(src.path)}</span> · {page}'
            f' · {rank} · {state}<a href="#" class="dc-close" role="button">Close</a></div>'
            f'<div class="dc-passage">{passage_html(src)}</div>{pdf_html(src)}</div>')
    question = text_html(answer.question)
    return (f'<div class="dc-turn" data-turn="{turn}"><h3>{title}</h3>'
            f'<div class="dc-for">for: {question}</div>{"".join(items)}</div>')


#: Answers whose sources the panel holds (the latest ones: the page shows no older turn).
PANEL_TURNS = 50


def sources_html(answers: "Sequence[Answer | None] | Answer | None") -> str:
    """The source panel: the sources of the conversation's latest PANEL_TURNS answers
    (answer ``i`` is turn ``i``), the latest shown; a citation of an older answer shows
    that answer's."""
    if answers is None or isinstance(answers, Answer):
        answers = [answers]
    first = max(0, len(answers) - PANEL_TURNS)
    turns = [_turn_html(a, i) for i, a in enumerate(answers[first:], start=first)
             if a is not None and a.sources]
    if not turns:
        return '<div class="dc-sources dc-empty">Sources of the latest answer appear here.</div>'
    return f'<div class="dc-sources">{"".join(turns)}</div>'
