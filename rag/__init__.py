"""docchat's core library: index documents, answer questions with verified citations.

Public API: Index, Answer, Settings, ask(). Nothing here imports Gradio; torch is loaded only
when something needs the embedding model. The names in ``_FACE`` are what the page, the API
and the MCP server (ui/) use besides (a test keeps ui/ to this face, its types and errors);
each is imported when first asked for, so ``import rag`` stays light.
"""
from __future__ import annotations

from rag.settings import Settings
from rag.types import (CANNOT_ANSWER, Answer, Document, Hit, Sentence, Source, Stage,
                       UpdateSummary)

__all__ = ["Index", "Answer", "Settings", "ask", "ask_stream", "CANNOT_ANSWER", "Document", "Hit",
           "Sentence", "Source", "Stage", "UpdateSummary"]


#: name -> module holding it (imported on first use).
_FACE = {
    "ENGINES": "rag.engines",  # the answer engines by name
    "SUPPORTED": "rag.ingest.loaders",  # the file types indexed
    "fingerprint": "rag.ingest.files",  # a file's content hash
    "visible": "rag.ingest.files",  # whether a path is shown (not hidden)
    "place": "rag.ingest.places",  # a passage's page label
    "check_names": "rag.ingest.uploads",  # upload names, checked before anything is stored
    "save_upload": "rag.ingest.uploads",
    "summarise": "rag.answering.summary",  # a cited summary of documents
}


def __getattr__(name: str):
    if name in _FACE:
        import importlib

        return getattr(importlib.import_module(_FACE[name]), name)
    if name == "Index":
        from rag.index import Index

        return Index
    if name in ("ask", "ask_stream"):
        from rag import answer

        return getattr(answer, name)
    raise AttributeError(name)
