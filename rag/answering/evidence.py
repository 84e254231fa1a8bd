"""A question's evidence: the sentences of its retrieved passages, their vectors and how well
each matches the question. Built once per question (``build_evidence``) and handed to the
engine, to verification and to the abstention rule; nothing here is cached between questions
except sentence vectors, which the embedder's own ``SentenceVectors`` keeps by text.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rag.answering.alignment import token_memo
from rag.lexical import words
from rag.sentences import sentence_spans
from rag.types import Hit

_CACHE_SIZE = 20000
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
#: Relevance of a passage sentence to the question: this share semantic similarity, the rest
#: content-word overlap.
SEMANTIC_WEIGHT = 0.7


@dataclass(frozen=True)
class PassageSentence:
    passage: int  # 0-based position among the hits
    start: int  # page offsets
    end: int
    text: str  # the page text of [start, end) with its whitespace collapsed
    structural: bool = False  # a heading, title or other non-prose line: never an answer alone


def passage_sentences(hits: Sequence[Hit]) -> list[PassageSentence]:
    """The sentences of each passage, split around its structural lines (Hit.structure)."""
    out = []
    for i, h in enumerate(hits):
        lines = [(a - h.start, b - h.start) for a, b, _ in h.structure
                 if a < h.end and b > h.start]
        for s, e in sentence_spans(h.text, lines):
            raw = h.text[s:e]
            text = raw.strip()
            if len(words(text)) == 0:
                continue
            lead = len(raw) - len(raw.lstrip())
            a = s + lead
            b = a + len(text)
            structural = any(x <= a and b <= y for x, y in lines)
            out.append(PassageSentence(i, h.start + a, h.start + b, " ".join(text.split()),
                                       structural))
    return out


class SentenceVectors:
    """Sentence embeddings by text, so a passage seen again is not encoded again. One per
    embedder, held by the embedder itself (``vectors_for``)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:  # what is cached now is taken now: storing the rest may evict it
            have = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for t in have:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in have]
        if missing:  # with a local model, one pass gives the alignment's word vectors too
            tokens = token_memo(self.embedder)
            pooled = tokens is not None and getattr(self.embedder, "mean_pooled", False)
            vecs = tokens.pooled(missing) if pooled else self.embedder.encode(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    self._cache[t] = have[t] = v
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.stack([have[t] for t in texts]) if texts else \
            np.zeros((0, self.embedder.dim), dtype=np.float32)


def vectors_for(embedder) -> SentenceVectors:
    """The embedder's sentence-vector memo (an attribute of that embedder, not a global)."""
    memo = getattr(embedder, "sentence_vectors", None)
    if memo is None:
        memo = SentenceVectors(embedder)
        try:
            embedder.sentence_vectors = memo
        except AttributeError:  # an embedder that refuses attributes: memo per question
            pass
    return memo


@dataclass(frozen=True, eq=False)
class Evidence:
    """Everything an engine and verification need about a question's passages."""

    question: str
    hits: tuple[Hit, ...]
    sentences: tuple[PassageSentence, ...]
    vectors: np.ndarray  # one row per sentence
    scores: np.ndarray  # relevance of each sentence to the question alone (abstention)
    ranking: np.ndarray  # the same, averaged with the recent turns' for a follow-up (engines)
    encode: SentenceVectors = field(repr=False)  # for claims verification has to embed
    #: The span reader's Reading of each hit (same order), when the reader ran: engines and
    #: the answer path use them to pick and mark the answer.
    readings: tuple = ()
    #: The answer checker's Check of its candidate sentences, most likely first, when it ran
    #: (rag.answering.answer_check): the first one opens an extractive answer.
    checks: tuple = ()

    @property
    def best(self) -> float:
        """The best match between the question and any answerable (non-structural) sentence."""
        ok = [float(s) for s, p in zip(self.scores, self.sentences) if not p.structural]
        return max(ok) if ok else 0.0

    def of_passage(self, i: int) -> list[int]:
        return [j for j, s in enumerate(self.sentences) if s.passage == i]

    def sentence_at(self, passage: int, offset: int) -> int | None:
        """The sentence of hit ``passage`` holding page offset ``offset`` (None: between)."""
        for j in self.of_passage(passage):
            s = self.sentences[j]
            if s.start <= offset < s.end:
                return j
        return None

    def reading_sentences(self, threshold: float, keep: float, most: int) -> list[int]:
        """The answer's sentences by the span reader: the one holding the most likely span
        first; then, best first, those holding another passage's span when that span is
        likely enough (``threshold``, and ``keep`` of the best) and says something else.
        A span on a structural line (a heading) does not count."""
        order = sorted(range(len(self.readings)), key=lambda i: -self.readings[i].probability)
        chosen: list[int] = []
        spans: list[str] = []
        top = None
        for i in order:
            r = self.readings[i]
            if top is not None and (r.probability < threshold or r.probability < keep * top):
                break
            j = self.sentence_at(i, self.hits[i].start + r.start)
            if j is None or self.sentences[j].structural:
                continue
            said = " ".join(r.span.lower().split())
            if j in chosen or any(said in s or s in said for s in spans):
                continue
            chosen.append(j)
            spans.append(said)
            top = r.probability if top is None else top
            if len(chosen) >= most:
                break
        return chosen


def build_evidence(embedder, question: str, hits: Sequence[Hit],
                   recent: Sequence[str] = ()) -> Evidence:
    """The evidence for ``question`` over ``hits``. ``recent`` are the user turns of the
    conversation that count (already sliced): a follow-up's "it" means what they were about."""
    encode = vectors_for(embedder)
    sents = passage_sentences(hits)
    texts = [s.text for s in sents]
    context = " ".join([question, *recent]) if recent else ""
    vecs = encode([question] + ([context] if context else []) + texts)
    svecs = vecs[2 if context else 1:]
    scores = _scores(vecs[0], question, svecs, texts)
    ranking = (scores + _scores(vecs[1], context, svecs, texts)) / 2 if context else scores
    return Evidence(question, tuple(hits), tuple(sents), svecs, scores, ranking, encode)


def _scores(qvec: np.ndarray, question: str, svecs: np.ndarray, texts: Sequence[str]
            ) -> np.ndarray:
    if not texts:
        return np.zeros(0, dtype=np.float32)
    sem = svecs @ qvec
    lex = np.array([overlap(question, t) for t in texts], dtype=np.float32)
    return SEMANTIC_WEIGHT * sem + (1 - SEMANTIC_WEIGHT) * lex


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
