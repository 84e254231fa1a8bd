"""The support checker: does a passage sentence state what an answer sentence says?

An LLM engine words its own sentences; citation verification (rag.answering.citations) must
decide whether the cited passage supports each one. Its vetoes stay (a number, a quoted
phrase or a negation the passage does not have; words glued from another passage), but
where it used a cosine + word-overlap score this model now decides: the reader's shape (the
packaged MiniLM with trained low-rank updates, run by rag.answering.span_reader.SpanReader
on torch or ONNX Runtime) trained on 34,000 Wikipedia entailment pairs
(benchmarks/train_support.py) with the answer sentence in the question's place. On the
4,978 held-out pairs it accepts 10.8% of sentences the premise does not entail against the
rule's 33.6% (docs/quality.md). Verbatim sentences (the extractive engine's) never reach it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

from rag.answering.span_reader import DOCS, SpanReader

NAME = "support"
WEIGHTS, META = DOCS / f"{NAME}.safetensors", DOCS / f"{NAME}.json"
#: (claim, premises) -> one support score per premise, on the verification rule's scale, or
#: None when the model cannot judge the claim (longer than the 64 tokens it reads): the rule
#: decides then.
Scorer = Callable[[str, Sequence[str]], "list[float] | None"]


def enabled(settings) -> bool:
    """Runs when its threshold is above 0, the embeddings are computed here (no local model
    with a remote embedding server) and its weights are installed."""
    return settings.entailment_threshold > 0 and not settings.embed_url and installed()


@lru_cache(maxsize=1)
def installed() -> bool:
    """Weights and their record: without them verification uses the rule, never fails."""
    return WEIGHTS.is_file() and META.is_file()


def scorer(settings) -> Scorer | None:
    """A scorer for citation verification, or None when the model is off. A claim longer
    than the 64 tokens the model reads is left to the rule (it would judge only its start). Its probability p
    is put on the verification rule's scale, piecewise linearly: p at the entailment threshold
    scores exactly the support threshold (verification keeps one threshold), p = 1 scores
    0.99 (1.0 is kept for verbatim sentences)."""
    if not enabled(settings):
        return None
    t, bar = settings.entailment_threshold, settings.support_threshold

    def score(claim: str, premises: Sequence[str]) -> list[float]:
        model = SpanReader.shared(settings, NAME)
        if model.windows.question(claim) != claim:  # it would read only the claim's start
            return None
        return [bar * p / t if p <= t else bar + (0.99 - bar) * (p - t) / (1 - t)
                for p in (r.probability for r in model.read(claim, list(premises)))]

    return score
