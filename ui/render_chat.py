"""Answer -> HTML for the chat's bubbles: an answer's sentences with their citation links
(to the Sources panel, ui/render_sources.py), unsupported sentences flagged, an abstention
labelled, the documents it was limited to; a draft streaming in; Stopped, errors, and the
note on older turns. All text goes through ``text_html`` (ui/escape.py).
"""
from __future__ import annotations

import os
import re

from rag import visible
from rag.types import Answer
from ui.escape import name_html, text_html
from ui.render_sources import MD_LINE, src_id

SUMMARY_ENGINE = "extractive-summary"  # rag.answering.summary's answers


def cite_link(turn: int, n: int) -> str:
    return (f'<a class="dc-cite" href="#{src_id(turn, n)}" data-src="{n}" '
            f'title="Show source {n}">[{n}]</a>')


def sources_text(answer: Answer) -> str:
    """The numbered sources as plain text (what "copy" puts after the answer)."""
    return "\n".join(f"[{s.n}] {os.path.basename(s.path)}, page {s.page}: "
                     f"{' '.join(s.text.split())}" for s in answer.sources)


def sentence_html(s) -> str:
    """A sentence, escaped, with the exact answer the reader marked in bold; a Markdown
    line marker it starts with ("- ", "## ") is not shown."""
    m = MD_LINE.match(s.text)
    text = s.text[m.end():] if m else s.text
    span = " ".join(s.answer.text.split()) if s.answer else ""
    at = text.find(span) if span else -1
    if at < 0:
        return text_html(text)
    return (text_html(text[:at]) + f'<strong class="dc-span">{text_html(span)}</strong>'
            + text_html(text[at + len(span):]))


def answer_html(answer: Answer, turn: int = 0) -> str:
    """The chat bubble: cited sentences with marker links; unsupported ones flagged;
    an abstention plainly labelled. ``data-sources`` carries the plain-text sources for
    the copy buttons (see COPY_JS)."""
    plain = f' data-sources="{text_html(sources_text(answer))}"' if answer.sources else ""
    scoped = scope_html(answer.scope, "Summary of" if answer.engine == SUMMARY_ENGINE
                        else "Searched only")
    if answer.abstained:
        closest = " The closest passages are listed under Sources." if answer.sources else ""
        return (f'<div class="dc-abstain"{plain}><strong>No answer found.</strong> '
                f"{text_html(answer.answer)}{closest}{scoped}</div>")
    parts = []
    for s in answer.sentences:
        marks = "".join(cite_link(turn, n) for n in s.citations)
        if s.supported:
            parts.append(f'<span class="dc-sent">{sentence_html(s)} {marks}</span>')
        else:
            parts.append('<span class="dc-sent dc-unsupported" title="No passage supports '
                         f'this sentence">{text_html(s.text)} {marks}'
                         '<span class="dc-flag">unsupported</span></span>')
    body = " ".join(parts) or text_html(answer.answer)
    return f'<div class="dc-answer"{plain}>{body}{scoped}</div>'


def scope_html(paths, what: str = "Searched only") -> str:
    """Under an answer limited to chosen documents (or a summary): which ones, escaped."""
    if not paths:
        return ""
    names = ", ".join(name_html(p) for p in paths[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    title = text_html("\n".join(visible(p) for p in paths))
    return f'<div class="dc-scope" title="{title}">{what}: {names}{more}</div>'


#: A draft's citation markers ("[3]", "[1, 2]"): passage ranks, which the verified answer
#: renumbers (its sources 1..n) -- shown, they would change under the reader's eyes.
DRAFT_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def older_html(hidden: int) -> str:
    """The first bubble of a long conversation: how many older turns are not shown."""
    return (f'<div class="dc-older">{hidden:,} older turn{"s" * (hidden != 1)} of this '
            "conversation are not shown here; download the conversation to read them "
            "all.</div>")


def draft_html(draft: str, stage: str = "") -> str:
    """A draft still streaming in: escaped text without its [n] markers (the verified answer
    shows them, numbered as its sources); under it what is being done now (``stage``)."""
    doing = f'<div class="dc-stage">{text_html(stage)}</div>' if stage else ""
    return f'<div class="dc-draft">{text_html(DRAFT_MARKER.sub("", draft))}{doing}</div>'


def stopped_html() -> str:
    return '<div class="dc-stopped">Stopped. Press Regenerate to ask again.</div>'


def error_html(message: str) -> str:
    return f'<div class="dc-error"><strong>Error:</strong> {text_html(message)}</div>'
