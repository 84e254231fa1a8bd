"""The page's own CSS and script, served inline (no CDN, no web fonts)."""
from __future__ import annotations

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
.dc-scope { margin-top: 6px; font-size: 0.85em; opacity: 0.8; }
.dc-error { border-left: 4px solid #dc2626; padding-left: 8px; color: #991b1b; }
.dark .dc-error { color: #fecaca; border-color: #f87171; }
.dc-draft, .dc-stopped { color: #374151; }
.dark .dc-draft, .dark .dc-stopped { color: #e5e7eb; }
.dc-stopped { font-style: italic; font-size: 0.9em; }
.dc-stage { font-style: italic; font-size: 0.9em; margin-top: 4px; }
table.dc-lib { width: 100%; font-size: 0.9em; border-collapse: collapse; }
/* a phone: the library scrolls sideways instead of hiding its last columns */
.dc-lib-wrap { overflow-x: auto; max-width: 100%; }
/* a very long word (a URL, a hash) wraps instead of running out of its box */
.dc-passage, .dc-answer, .dc-abstain, .dc-error, .dc-src-head, .dc-for, table.dc-lib td,
#chat .message, #conv-list label { overflow-wrap: anywhere; min-width: 0; }
table.dc-lib td, table.dc-lib th { padding: 2px 6px; text-align: left;
    border-bottom: 1px solid #e5e7eb; }
.dc-skipped { color: #92400e; }
.dark .dc-skipped { color: #fcd34d; }
.dc-excluded { color: #4b5563; font-style: italic; }
.dark .dc-excluded { color: #d1d5db; }
/* the Sources panel scrolls inside its own box (Gradio's block styles would otherwise let
   its passages run over the Documents section below: issue 19) */
#sources { max-height: 85vh !important; overflow-y: auto !important; overflow-x: hidden; }
@media (max-width: 768px) { #sources { max-height: 70vh !important; } }
#conv-list { max-height: 60vh; overflow-y: auto; }
/* Delete's confirmation takes the place of Rename and Delete: it shows where the user just
   clicked, not under the fold of a short window (issue 19) */
#conversations:has(#conv-confirm-row #conv-confirm) #conv-actions { display: none !important; }
@media (max-width: 768px) { #conv-list { max-height: 30vh; }
    /* a phone: the chat first, the conversation list after it (not a screen above it) */
    #conversations { order: 2; }
    /* the question box has the screen's width; Ask and Stop share the line under it */
    #ask-row { flex-wrap: wrap !important; }
    #ask-row > .form:has(#question) { flex: 1 1 100% !important; min-width: 100% !important; }
    #ask-row > #ask, #ask-row > #stop { flex: 1 1 0 !important; min-width: 0 !important; }
    /* an empty chat is shorter, so the question box and the example questions are on the
       first screen; a conversation gets the chat's full height */
    #chat:not(:has(.message-row)) { height: 34vh !important; }
    #header h2 { font-size: 1.25em; } }
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
