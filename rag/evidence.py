"""Sentences of retrieved passages and how well they match a question or a claim.

Used by the extractive engine (which sentences answer), by citation verification (does a
passage support a sentence) and by the abstention rule (is there evidence at all).
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.lexical import words
from rag.sentences import sentence_spans
from rag.types import Hit

_CACHE_SIZE = 20000
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class PassageSentence:
    passage: int  # 0-based position among the hits
    start: int  # page offsets
    end: int
    text: str


def passage_sentences(hits: Sequence[Hit]) -> list[PassageSentence]:
    out = []
    for i, h in enumerate(hits):
        for s, e in sentence_spans(h.text):
            raw = h.text[s:e]
            text = raw.strip()
            if len(words(text)) == 0:
                continue
            lead = len(raw) - len(raw.lstrip())
            out.append(PassageSentence(i, h.start + s + lead, h.start + s + lead + len(text),
                                       " ".join(text.split())))
    return out


class VectorCache:
    """Sentence embeddings by text, so a passage seen again is not encoded again."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vecs = self.embedder.encode(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    self._cache[t] = v
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._lock:
            for t in texts:
                self._cache.move_to_end(t)
            return np.stack([self._cache[t] for t in texts]) if texts else \
                np.zeros((0, self.embedder.dim), dtype=np.float32)


_caches: dict[int, VectorCache] = {}


def cache_for(embedder) -> VectorCache:
    key = id(embedder)
    if key not in _caches:
        _caches[key] = VectorCache(embedder)
    return _caches[key]


def overlap(claim: str, text: str) -> float:
    """Share of the claim's content words found in ``text`` (stemmed)."""
    cw = set(words(claim))
    if not cw:
        return 0.0
    return len(cw & set(words(text))) / len(cw)


def numbers_present(claim: str, text: str) -> bool:
    """Every number stated in the claim also appears in the text."""
    have = set(_NUMBER.findall(text))
    return all(n in have for n in _NUMBER.findall(claim))


def question_scores(cache: VectorCache, question: str, sents: Sequence[PassageSentence]
                    ) -> np.ndarray:
    """Relevance of each sentence to the question: semantic similarity plus word overlap."""
    if not sents:
        return np.zeros(0, dtype=np.float32)
    vecs = cache.vectors([question] + [s.text for s in sents])
    sem = vecs[1:] @ vecs[0]
    lex = np.array([overlap(question, s.text) for s in sents], dtype=np.float32)
    return SEMANTIC_WEIGHT * sem + (1 - SEMANTIC_WEIGHT) * lex


SEMANTIC_WEIGHT = 0.7
