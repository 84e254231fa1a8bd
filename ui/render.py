"""Answer -> HTML for the chat bubble and the source panel.

Every piece of document or user text goes through ``text_html`` here, and nowhere else is
text turned into markup: a document containing ``<script>`` shows as text and runs nothing.
"""
from __future__ import annotations

import os

from rag.places import place
from rag.types import Answer, Source

SNIPPET = 600  # characters of passage shown around the cited spans


_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#~|$\\"})


def text_html(text: str) -> str:
    """Escape for HTML (and neutralise what the chat's Markdown renderer would act on), in
    one pass so that no entity is escaped twice."""
    return text.translate(_ENTITIES)


def cite_link(n: int) -> str:
    return f'<a class="dc-cite" href="#src-{n}" data-src="{n}">[{n}]</a>'


def answer_html(answer: Answer) -> str:
    """The chat bubble: cited sentences with marker links; unsupported ones flagged;
    an abstention plainly labelled."""
    if answer.abstained:
        closest = " The closest passages are listed under Sources." if answer.sources else ""
        return ('<div class="dc-abstain"><strong>No answer found.</strong> '
                f"{text_html(answer.answer)}{closest}</div>")
    parts = []
    for s in answer.sentences:
        marks = "".join(cite_link(n) for n in s.citations)
        if s.supported:
            parts.append(f'<span class="dc-sent">{text_html(s.text)} {marks}</span>')
        else:
            parts.append('<span class="dc-sent dc-unsupported" title="No passage supports '
                         f'this sentence">{text_html(s.text)} {marks}'
                         '<span class="dc-flag">unsupported</span></span>')
    body = " ".join(parts) or text_html(answer.answer)
    return f'<div class="dc-answer">{body}</div>'


def draft_html(draft: str) -> str:
    """A draft still streaming in: escaped text, markers shown as typed."""
    return f'<div class="dc-draft">{text_html(draft)}</div>'


def error_html(message: str) -> str:
    return f'<div class="dc-error"><strong>Error:</strong> {text_html(message)}</div>'


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


def passage_html(src: Source) -> str:
    """The passage with its cited spans in <mark>; long passages trimmed around them."""
    spans = _merged(src.highlights, src.start, src.end)
    text = src.text
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
        out.append(text_html(text[pos:a]))
        out.append(f'<mark class="dc-mark">{text_html(text[a:b])}</mark>')
        pos = b
    out.append(text_html(text[pos:hi]))
    out.append("…" if hi < len(text) else "")
    return "".join(out)


def sources_html(answer: Answer | None) -> str:
    """The source panel for the latest answer."""
    if answer is None or not answer.sources:
        return '<div class="dc-sources dc-empty">Sources of the latest answer appear here.</div>'
    cited = {n for s in answer.sentences for n in s.citations}
    title = "Closest passages (not an answer)" if answer.abstained else "Sources"
    items = []
    for src in answer.sources:
        page = text_html(place(src.page, src.label, src.text))  # "slide 3", "page 2, OCR text"
        state = "cited" if src.n in cited else "retrieved, not cited"
        items.append(
            f'<div class="dc-src{" dc-cited" if src.n in cited else ""}" id="src-{src.n}">'
            f'<div class="dc-src-head"><span class="dc-n">[{src.n}]</span> '
            f'<span class="dc-file" title="{text_html(src.path)}">{text_html(os.path.basename(src.path))}'
            f'</span> · {page} · chars {src.start}–{src.end} · score {src.score:.3f} · '
            f'{state}</div><div class="dc-passage">{passage_html(src)}</div></div>')
    return f'<div class="dc-sources"><h3>{title}</h3>{"".join(items)}</div>'


CSS = """
.dc-cite { font-weight: 600; text-decoration: none; margin-left: 1px; }
.dc-unsupported { background: #fff4e5; border-bottom: 2px dotted #d97706; }
.dc-flag { font-size: 0.75em; color: #b45309; border: 1px solid #d97706; border-radius: 4px;
           padding: 0 4px; margin-left: 4px; }
.dc-abstain { border-left: 4px solid #6b7280; padding-left: 8px; color: #374151; }
.dc-error { border-left: 4px solid #dc2626; padding-left: 8px; color: #991b1b; }
.dc-src { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; margin-bottom: 8px; }
.dc-src.dc-cited { border-color: #2563eb; }
.dc-src-head { font-size: 0.85em; color: #4b5563; margin-bottom: 4px; }
.dc-n { font-weight: 700; color: #1d4ed8; }
.dc-passage { white-space: pre-wrap; font-size: 0.92em; line-height: 1.45; }
.dc-mark { background: #fde68a; padding: 0 1px; }
.dc-src:target { box-shadow: 0 0 0 3px #93c5fd; }
"""
