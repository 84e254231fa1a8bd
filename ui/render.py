"""Answer -> HTML for the chat bubble and the source panel.

Every piece of document or user text goes through ``text_html`` here, and nowhere else is
text turned into markup: a document containing ``<script>`` shows as text and runs nothing.
"""
from __future__ import annotations

import os
import re
from typing import Sequence

from rag import place, visible
from rag.types import Answer, Document, DocumentStatus, Source, document_id

SUMMARY_ENGINE = "extractive-summary"  # rag.answering.summary's answers
SNIPPET = 600  # characters of passage shown around the cited spans


_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#~|$\\"})


def text_html(text: str) -> str:
    """Escape for HTML (and neutralise what the chat's Markdown renderer would act on), in
    one pass so that no entity is escaped twice."""
    return text.translate(_ENTITIES)


def name_html(path: str) -> str:
    """A file's name for the page: escaped, and characters that could spoof another name
    (right-to-left overrides, zero-width ones) shown as <U+XXXX>."""
    return text_html(visible(os.path.basename(path)))


def src_id(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn``: unique on the page, so an
    older answer's ``[n]`` opens that answer's source, not the latest one's."""
    return f"src-{turn}-{n}"


def cite_link(turn: int, n: int) -> str:
    return (f'<a class="dc-cite" href="#{src_id(turn, n)}" data-src="{n}" '
            f'title="Show source {n}">[{n}]</a>')


def sources_text(answer: Answer) -> str:
    """The numbered sources as plain text (what "copy" puts after the answer)."""
    return "\n".join(f"[{s.n}] {os.path.basename(s.path)}, page {s.page}: "
                     f"{' '.join(s.text.split())}" for s in answer.sources)


#: Markdown a sentence or passage may start a line with: a heading's #s, a list item's
#: marker, a quote's >. Shown as structure, not as characters (the stored text is unchanged).
_MD_LINE = re.compile(r"(?m)^[ \t]*(#{1,6}[ \t]+|[-*+][ \t]+|>[ \t]?)")


def sentence_html(s) -> str:
    """A sentence, escaped, with the exact answer the reader marked in bold; a Markdown
    line marker it starts with ("- ", "## ") is not shown."""
    m = _MD_LINE.match(s.text)
    text = s.text[m.end():] if m else s.text
    span = " ".join(s.answer.text.split()) if s.answer else ""
    at = text.find(span) if span else -1
    if at < 0:
        return text_html(text)
    return (text_html(text[:at]) + f'<strong class="dc-span">{text_html(span)}</strong>'
            + text_html(text[at + len(span):]))


def _markdown_view(text: str):
    """text[a:b] for display, without Markdown line markers (a list item's marker becomes
    a bullet); offsets stay those of ``text``, so highlights need no mapping."""
    marks = [(m.start(1), m.end(1), m.group(1)[0]) for m in _MD_LINE.finditer(text)]

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


def size_text(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB" if n >= 1024 \
        else f"{n} B"


def library_html(docs: list[Document], name_filter: str = "") -> str:
    """The library table; every name, path and reason escaped."""
    wanted = [d for d in docs if name_filter.lower() in d.name.lower()]
    if not wanted:
        return '<div class="dc-lib dc-empty">No documents match.</div>' if docs else \
            '<div class="dc-lib dc-empty">No documents yet.</div>'
    rows = []
    for d in wanted:
        state = "indexed" if d.status == DocumentStatus.INDEXED else \
            f'<span class="dc-{d.status}">{d.status}: {text_html(d.reason)}</span>'
        rows.append(
            f'<tr data-id="{d.id}"><td title="{text_html(visible(d.path))}">{text_html(d.name)}</td>'
            f"<td>{text_html(d.type)}</td><td>{d.pages or ''}</td><td>{d.chunks or ''}</td>"
            f"<td>{size_text(d.size)}</td><td>{text_html(d.indexed_at.replace('T', ' ')[:16])}"
            f"</td><td>{state}</td></tr>")
    return ('<div class="dc-lib-wrap"><table class="dc-lib"><thead><tr><th>Name</th>'
            "<th>Type</th><th>Pages</th><th>Chunks</th><th>Size</th><th>Indexed (UTC)</th>"
            f"<th>Status</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


# Colours meet WCAG AA (4.5:1) in both themes; tests/e2e checks the computed contrast.
