"""Answer -> plain text for the terminal: the answer with markers, then numbered sources."""
from __future__ import annotations

import os
import textwrap

from rag.ingest.places import place
from rag.types import Answer, Source

SNIPPET = 300  # characters of an uncited passage shown


def display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def page_name(s: Source) -> str:
    return place(s.page, s.label, s.text)


def render_answer(answer: Answer) -> str:
    lines = []
    for s in answer.sentences or ():
        mark = "".join(f"[{n}]" for n in s.citations)
        flag = "" if s.supported else "(unsupported: no passage backs this sentence)"
        lines.append(" ".join(part for part in (s.text, mark, flag) if part))
    lines = [" ".join(lines)] if lines else [answer.answer]
    lines = textwrap.wrap(lines[0], 100) or [""]
    if answer.scope:
        names = ", ".join(display_path(p) for p in answer.scope[:5])
        more = len(answer.scope) - 5
        what = "Summary of" if answer.engine == "extractive-summary" else "Searched only"
        lines += ["", f"{what}: {names}" + (f" and {more} more" if more > 0 else "")]
    cited = {n for s in answer.sentences for n in s.citations}
    if answer.sources:
        lines += ["", "Sources:" if not answer.abstained else "Closest passages:"]
    for src in answer.sources:
        lines.append(f"[{src.n}] {display_path(src.path)}, {page_name(src)}, "
                     f"chars {src.start}-{src.end}, score {src.score:.3f}")
        if src.n in cited and src.highlights:
            for a, b in src.highlights:
                span = src.text[a - src.start:b - src.start]
                lines += textwrap.wrap(f'"{span}"', 96, initial_indent="    ",
                                       subsequent_indent="     ")
        else:
            snippet = " ".join(src.text.split())
            snippet = snippet[:SNIPPET] + ("…" if len(snippet) > SNIPPET else "")
            lines += textwrap.wrap(snippet, 96, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)
