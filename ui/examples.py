"""Example questions for an empty chat, made from the documents and checked before they are
offered (split from ui/service.py, issue 17)."""
from __future__ import annotations

import re
from pathlib import Path

from rag.answer import ask
from rag.errors import DocchatError
from rag.index import Index
from rag.types import Document, DocumentStatus

_HEADING = re.compile(r"^\s{0,3}#{1,3}\s+(.{3,80}?)\s*#*\s*$", re.M)


class Examples:
    def __init__(self, index: Index) -> None:
        self.index = index
        self._cached: tuple[int, list[str]] | None = None  # (index generation, questions)

    def questions(self, n: int = 3) -> list[str]:
        """Questions to start from, one per recently indexed document, each checked before
        it is offered: a question about one of its sections ("What does mill report say
        about staff?") when asking it gets an answer whose first source is that document,
        else "Summarise <name>" (which always works for a document with text). Computed
        once per index state (a few questions when the library changed), not per page load."""
        generation = self.index.snapshot().generation if self.index.exists else -1
        cached = self._cached
        if cached is not None and cached[0] == generation:
            return cached[1][:n]
        docs = sorted((d for d in self.index.documents()
                       if d.status == DocumentStatus.INDEXED and d.chunks),
                      key=lambda d: d.indexed_at, reverse=True)
        out = [self._section_question(doc) or f"Summarise {doc.name}" for doc in docs[:n]]
        self._cached = (generation, out)
        return out

    def _section_question(self, doc: Document) -> str | None:
        headings = [h.strip() for h in _HEADING.findall(self.index.page_text(doc.path, 1))]
        if not headings:
            return None
        topic = headings[1] if len(headings) > 1 else headings[0]  # the first is the title
        subject = re.sub(r"[-_]+", " ", Path(doc.name).stem).strip()
        question = f"What does {subject} say about {topic[:1].lower() + topic[1:]}?"
        try:
            answer = ask(self.index, question)
        except DocchatError:
            return None
        if answer.abstained or not answer.sources or answer.sources[0].path != doc.path:
            return None
        return question
