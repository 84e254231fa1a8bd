"""Answer engines behind one protocol.

An engine turns a question and its evidence (the numbered passages, their sentences and
scores, computed once: rag.answering.evidence) into a *draft*: plain text whose sentences carry ``[n]``
markers, n being the 1-based position of a passage in ``evidence.hits``. It streams the draft
as text pieces. Verification of the draft (rag.answering.citations) is the same for all engines.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from rag.settings import ENGINES, Settings

if TYPE_CHECKING:
    from rag.answering.evidence import Evidence

__all__ = ["ENGINES", "Engine", "get_engine"]


class Engine(Protocol):
    name: str

    def draft(self, question: str, evidence: "Evidence",
              history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        """Yield the draft answer piece by piece (concatenated: the whole draft)."""
        ...


def get_engine(name: str, settings: Settings) -> Engine:
    """Build (or reuse) the engine called ``name``. Heavy imports happen here, lazily."""
    from rag.errors import EngineError

    if name == "extractive":
        from rag.engines.extractive import ExtractiveEngine
        return ExtractiveEngine(settings)
    if name == "openai":
        from rag.engines.openai import OpenAIEngine
        return OpenAIEngine(settings)
    if name == "llamacpp":
        from rag.engines.llamacpp import LlamaCppEngine
        return LlamaCppEngine.shared(settings)
    raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
