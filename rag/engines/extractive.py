"""The default engine: no LLM. Picks the sentences of the passages that best answer the
question, gathers them from several passages when more than one is relevant (list questions),
drops repeats, orders them as the documents do, and cites each one."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from rag.evidence import cache_for, passage_sentences, question_scores
from rag.retrieval import retrieval_query
from rag.settings import Settings
from rag.types import Hit

REPEAT_COSINE = 0.9  # sentences this similar say the same thing


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, settings: Settings, embedder=None) -> None:
        self.settings = settings
        self._embedder = embedder

    @property
    def embedder(self):
        if self._embedder is None:
            from rag.embedding import Embedder

            self._embedder = Embedder.shared(self.settings.embed_model,
                                             self.settings.embed_batch)
        return self._embedder

    def draft(self, question: str, passages: Sequence[Hit],
              history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        cache = cache_for(self.embedder)
        sents = passage_sentences(passages)
        if not sents:
            return
        scores = question_scores(cache, question, sents)
        recent = [u for u, _ in history][-self.settings.history_turns:]
        if recent:  # a follow-up: "it" means what the conversation was about
            context = retrieval_query(question, recent, len(recent))
            scores = (scores + question_scores(cache, context, sents)) / 2
        vecs = cache.vectors([s.text for s in sents])
        chosen: list[int] = []
        for i in np.argsort(-scores, kind="stable"):
            if chosen and scores[i] < self.settings.extractive_keep * scores[chosen[0]]:
                break
            if any(float(vecs[i] @ vecs[j]) > REPEAT_COSINE or sents[i].text == sents[j].text
                   for j in chosen):
                continue
            chosen.append(int(i))
            if len(chosen) >= self.settings.max_answer_sentences:
                break
        # passages in order of their best chosen sentence; sentences in document order
        first = {}
        for i in chosen:
            first.setdefault(sents[i].passage, len(first))
        chosen.sort(key=lambda i: (first[sents[i].passage], sents[i].start))
        for n, i in enumerate(chosen):
            yield ("" if n == 0 else " ") + f"{sents[i].text} [{sents[i].passage + 1}]"
