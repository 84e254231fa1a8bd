"""Answer engines behind one protocol.

An engine turns a question and numbered passages into a *draft*: plain text whose sentences
carry ``[n]`` markers, n being the 1-based position of a passage in ``passages``. It streams
the draft as text pieces. Verification of the draft (rag.citations) is the same for all engines.
"""
from __future__ import annotations

from typing import Iterator, Protocol, Sequence

from rag.settings import Settings
from rag.types import Hit

ENGINES = ("extractive", "openai", "llamacpp")


class Engine(Protocol):
    name: str

    def draft(self, question: str, passages: Sequence[Hit],
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
