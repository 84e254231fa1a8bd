"""Answer -> HTML for the chat bubble and the source panel.

Every piece of document or user text goes through ``text_html`` here, and nowhere else is
text turned into markup: a document containing ``<script>`` shows as text and runs nothing.
"""
from __future__ import annotations

import os
import re
from typing import Sequence

from rag.places import place
from rag.types import Answer, Document, Source, document_id

SNIPPET = 600  # characters of passage shown around the cited spans


_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#~|$\\"})


def text_html(text: str) -> str:
    """Escape for HTML (and neutralise what the chat's Markdown renderer would act on), in
    one pass so that no entity is escaped twice."""
    return text.translate(_ENTITIES)


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


def answer_html(answer: Answer, turn: int = 0) -> str:
    """The chat bubble: cited sentences with marker links; unsupported ones flagged;
    an abstention plainly labelled. ``data-sources`` carries the plain-text sources for
    the copy buttons (see COPY_JS)."""
    plain = f' data-sources="{text_html(sources_text(answer))}"' if answer.sources else ""
    if answer.abstained:
        closest = " The closest passages are listed under Sources." if answer.sources else ""
        return (f'<div class="dc-abstain"{plain}><strong>No answer found.</strong> '
                f"{text_html(answer.answer)}{closest}</div>")
    parts = []
    for s in answer.sentences:
        marks = "".join(cite_link(turn, n) for n in s.citations)
        if s.supported:
            parts.append(f'<span class="dc-sent">{text_html(s.text)} {marks}</span>')
        else:
            parts.append('<span class="dc-sent dc-unsupported" title="No passage supports '
                         f'this sentence">{text_html(s.text)} {marks}'
                         '<span class="dc-flag">unsupported</span></span>')
    body = " ".join(parts) or text_html(answer.answer)
    return f'<div class="dc-answer"{plain}>{body}</div>'


def draft_html(draft: str) -> str:
    """A draft still streaming in: escaped text, markers shown as typed."""
    return f'<div class="dc-draft">{text_html(draft)}</div>'


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
    PDF text is reflowed for display (see ``reflow``)."""
    shown = reflow if src.path.lower().endswith(".pdf") else (lambda t: t)
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
        out.append(text_html(shown(text[pos:a])))
        out.append(f'<mark class="dc-mark">{text_html(shown(text[a:b]))}</mark>')
        pos = b
    out.append(text_html(shown(text[pos:hi])))
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
            f'alt="Page {src.page} of {text_html(os.path.basename(src.path))}" '
            f'src="/api/documents/{doc}/pages/{src.page}.png?start={lo}&amp;end={hi}">'
            f'</details></div>')


def relevance(score: float) -> str:
    """A plain label for a passage's retrieval score (scores are relative to the other
    passages retrieved for the same question)."""
    return "high" if score >= 0.66 else "medium" if score >= 0.33 else "low"


def _turn_html(answer: Answer, turn: int) -> str:
    cited = {n for s in answer.sentences for n in s.citations}
    title = "Closest passages (not an answer)" if answer.abstained else "Sources"
    items = []
    for src in answer.sources:
        page = text_html(place(src.page, src.label, src.text))  # "slide 3", "page 2, OCR text"
        state = "cited" if src.n in cited else "retrieved, not cited"
        detail = text_html(f"{src.path} · characters {src.start}–{src.end} of the page · "
                           f"retrieval score {src.score:.3f}")
        items.append(
            f'<div class="dc-src{" dc-cited" if src.n in cited else ""}" '
            f'id="{src_id(turn, src.n)}" data-n="{src.n}">'
            f'<div class="dc-src-head" title="{detail}"><span class="dc-n">[{src.n}]</span> '
            f'<span class="dc-file">{text_html(os.path.basename(src.path))}</span> · {page}'
            f' · rank {src.n} of {len(answer.sources)} · relevance {relevance(src.score)} · '
            f'{state}<a href="#" class="dc-close" role="button">Close</a></div>'
            f'<div class="dc-passage">{passage_html(src)}</div>{pdf_html(src)}</div>')
    question = text_html(answer.question)
    return (f'<div class="dc-turn" data-turn="{turn}"><h3>{title}</h3>'
            f'<div class="dc-for">for: {question}</div>{"".join(items)}</div>')


def sources_html(answers: "Sequence[Answer | None] | Answer | None") -> str:
    """The source panel: the sources of every answer of the conversation (answer ``i`` is
    turn ``i``), the latest shown; a citation of an older answer shows that answer's."""
    if answers is None or isinstance(answers, Answer):
        answers = [answers]
    turns = [_turn_html(a, i) for i, a in enumerate(answers) if a is not None and a.sources]
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
        state = "indexed" if d.status == "indexed" else \
            f'<span class="dc-skipped">skipped: {text_html(d.reason)}</span>'
        rows.append(
            f'<tr data-id="{d.id}"><td title="{text_html(d.path)}">{text_html(d.name)}</td>'
            f"<td>{text_html(d.type)}</td><td>{d.pages or ''}</td><td>{d.chunks or ''}</td>"
            f"<td>{size_text(d.size)}</td><td>{text_html(d.indexed_at.replace('T', ' ')[:16])}"
            f"</td><td>{state}</td></tr>")
    return ('<table class="dc-lib"><thead><tr><th>Name</th><th>Type</th><th>Pages</th>'
            "<th>Chunks</th><th>Size</th><th>Indexed (UTC)</th><th>Status</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# Colours meet WCAG AA (4.5:1) in both themes; tests/e2e checks the computed contrast.
CSS = """
.dc-cite { color: #1d4ed8; text-decoration: underline; margin-left: 1px; cursor: pointer; }
.dark .dc-cite { color: #93c5fd; }
.dc-unsupported { background: #fff4e5; color: #1f2937; border-bottom: 2px dotted #b45309; }
.dark .dc-unsupported { background: #451a03; color: #fef3c7; }
.dc-flag { font-size: 0.75em; color: #92400e; border: 1px solid #b45309; border-radius: 4px;
           padding: 0 4px; margin-left: 4px; }
.dark .dc-flag { color: #fcd34d; border-color: #fcd34d; }
.dc-abstain { border-left: 4px solid #6b7280; padding-left: 8px; color: #374151; }
.dark .dc-abstain { color: #e5e7eb; border-color: #9ca3af; }
.dc-error { border-left: 4px solid #dc2626; padding-left: 8px; color: #991b1b; }
.dark .dc-error { color: #fecaca; border-color: #f87171; }
.dc-draft, .dc-stopped { color: #374151; }
.dark .dc-draft, .dark .dc-stopped { color: #e5e7eb; }
.dc-stopped { font-style: italic; font-size: 0.9em; }
table.dc-lib { width: 100%; font-size: 0.9em; border-collapse: collapse; }
table.dc-lib td, table.dc-lib th { padding: 2px 6px; text-align: left;
    border-bottom: 1px solid #e5e7eb; }
.dc-skipped { color: #92400e; }
.dark .dc-skipped { color: #fcd34d; }
#sources { max-height: 85vh; overflow-y: auto; }
#conv-list { max-height: 60vh; overflow-y: auto; }
@media (max-width: 768px) { #conv-list { max-height: 30vh; } }
.dc-turn { display: none; }
.dc-turn:last-child { display: block; }
.dc-picked .dc-turn { display: none; }
.dc-picked .dc-turn.dc-open { display: block; }
.dc-for { font-size: 0.85em; color: #4b5563; margin-bottom: 6px; }
.dark .dc-for { color: #d1d5db; }
.dc-src { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; margin-bottom: 8px; }
.dark .dc-src { border-color: #4b5563; }
.dc-src.dc-cited { border-color: #2563eb; }
.dc-src-head { font-size: 0.85em; color: #4b5563; margin-bottom: 4px; }
.dark .dc-src-head { color: #d1d5db; }
.dc-n { font-weight: 700; color: #1d4ed8; }
.dark .dc-n { color: #93c5fd; }
.dc-passage { white-space: pre-wrap; font-size: 0.92em; line-height: 1.45; }
.dc-mark { background: #fde68a; color: #1f2937; padding: 0 1px; }
.dark .dc-mark { background: #854d0e; color: #fef9c3; }
.dc-src:target, .dc-src.dc-focus { box-shadow: 0 0 0 3px #93c5fd; }
.dc-close { display: none; float: right; }
.dc-pdf { font-size: 0.85em; margin-top: 4px; }
.dc-page { max-width: 100%; border: 1px solid #9ca3af; margin-top: 4px; }
.gradio-container:has(#chat .message-row) #examples { display: none; }
.dc-src.dc-overlay { position: fixed; left: 4vw; right: 4vw; top: 10vh; max-height: 75vh;
    overflow-y: auto; z-index: 1000; background: #ffffff; color: #1f2937;
    box-shadow: 0 8px 30px rgba(0, 0, 0, 0.35); }
.dark .dc-src.dc-overlay { background: #1f2937; color: #f3f4f6; }
.dc-src.dc-overlay .dc-close { display: inline; }
"""

# Loaded in the page's <head>. (1) A citation opens its own answer's source: in the panel
# (scrolled into view inside it), or on a narrow screen as an overlay with a Close link, so
# the chat does not move. (2) The chat's copy buttons copy plain text with [n] markers and
# the sources, not the bubble's HTML: Gradio copies a message's raw value, so the clipboard
# write is given the text of that HTML instead.
HEAD_JS = r"""<script>
(() => {
  const NARROW = "(max-width: 768px)";
  document.addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const close = t.closest(".dc-close");
    if (close) { e.preventDefault(); close.closest(".dc-src").classList.remove("dc-overlay"); return; }
    const a = t.closest("a.dc-cite");
    if (!a) return;
    const el = document.getElementById(a.getAttribute("href").slice(1));
    if (!el) return;
    e.preventDefault();
    document.querySelectorAll(".dc-open, .dc-focus, .dc-overlay").forEach(
      (x) => x.classList.remove("dc-open", "dc-focus", "dc-overlay"));
    el.closest(".dc-sources").classList.add("dc-picked");
    el.closest(".dc-turn").classList.add("dc-open");
    el.classList.add("dc-focus");
    if (window.matchMedia(NARROW).matches) { el.classList.add("dc-overlay"); return; }
    const panel = document.getElementById("sources");
    panel.scrollTop += el.getBoundingClientRect().top - panel.getBoundingClientRect().top - 8;
  }, true);
  const plain = (text) => {
    if (!/class="dc-/.test(text)) return text;
    const doc = new DOMParser().parseFromString(text, "text/html");
    doc.querySelectorAll(".dc-flag").forEach((f) => f.remove());
    doc.querySelectorAll("[data-sources]").forEach((d) => {
      d.append("\n\nSources:\n" + d.getAttribute("data-sources") + "\n");
    });
    return doc.body.textContent.replace(/[ \t]+\n/g, "\n").trim();
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => write(plain(String(text)));
  }
})();
</script>"""
