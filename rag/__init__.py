"""docchat's core library: index documents, answer questions with verified citations.

Public API: Index, Answer, Settings, ask(). Nothing here imports Gradio; torch is loaded only
when something needs the embedding model.
"""
from __future__ import annotations

from rag.settings import Settings
from rag.types import (CANNOT_ANSWER, Answer, Document, Hit, Sentence, Source, Stage,
                       UpdateSummary)

__all__ = ["Index", "Answer", "Settings", "ask", "ask_stream", "CANNOT_ANSWER", "Document", "Hit",
           "Sentence", "Source", "Stage", "UpdateSummary"]


def __getattr__(name: str):
    if name == "Index":
        from rag.index import Index

        return Index
    if name in ("ask", "ask_stream"):
        from rag import answer

        return getattr(answer, name)
    raise AttributeError(name)
