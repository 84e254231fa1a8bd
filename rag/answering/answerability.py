"""Does a drafted answer actually answer the question? Decided per answer, after the draft.

Retrieval evidence (rag.answer.evidence) only says the passages are on the question's topic.
An unanswerable question is usually on topic too ("What did the Normans rule in 1100?" when the
text gives another year), so this module looks at the chosen answer sentences themselves:

* the expected answer type (who/when/how many/where) is present in them (rag.answering.answer_types);
* the question's key terms (its words beyond the topic shared by all retrieved passages) are in
  the cited passage, stemmed, or paraphrased in the answer (a word of the answer whose MiniLM
  vector is close to the term's);
* names and numbers of the question are in the cited passage;
* the evidence score and the retrieval signal of the cited passage (rank, dense, BM25 share:
  computed, but the current model leaves them out, see docs/quality.md);
* alignment: each content word of the question is matched to its closest word of the answer
  sentences and of the cited passage (the same stem, else the cosine of their contextual MiniLM
  token vectors: the embedding model's own token output, no other model). An unanswerable
  question is usually about the passage but asks for something it does not state: one of its
  words (often the focus next to the wh-word, or the relation) has no counterpart
  (rag.answering.alignment).

A model learnt on SQuAD 2.0 (benchmarks/train_answerability.py, split by article; gradient-
boosted stumps or a logistic regression, whichever cross-validates better) combines them into a
probability; its weights, threshold and data description are in rag/answering/models/answerability.json, loaded
once at run time. The alignment features cost one more encode per answer (token vectors of the
question, the answer and the cited passage's sentences, kept by text), so they are computed
only when the model reads them. Token vectors come straight from the sentence-transformers
model, outside the embedder's queue (rag.embedding.local), as a small foreground call.
"""
from __future__ import annotations

import json
import re
from dataclasses import astuple, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.answering.alignment import Tokens, Vectors, alignment, surface as _surface, tokens_for
from rag.answering.answer_types import expected_type, has_type, names
from rag.errors import DocchatError
from rag.lexical import words
from rag.types import Hit

MODEL_PATH = Path(__file__).resolve().parent / "models" / "answerability.json"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(not|never|no|none|nor|without|n't)\b|n't\b", re.I)
#: A passage word this close (cosine of MiniLM word vectors) to a question term paraphrases it.
PARAPHRASE_COSINE = 0.6
#: A question word found in every retrieved passage (of at least this many) is the topic.
TOPIC_MIN_PASSAGES = 3


@dataclass(frozen=True)
class Features:
    """What the answerability model sees of one drafted answer (all numbers, see module doc)."""

    evidence: float  # retrieval evidence (best question/sentence score)
    sentence_cosine: float  # best cosine between the question and an answer sentence
    dense_cited: float  # best dense score of a cited passage
    cited_rank: float  # 1 / (1 + best rank of a cited passage among the hits)
    sparse_share: float  # best BM25 score of a cited passage / best BM25 score of any hit
    cover_sentence: float  # share of the question's key terms in the answer sentences
    cover_passage: float  # share of the key terms in the cited passages
    paraphrased: float  # share of the key terms in the cited passages or paraphrased in the answer
    worst_term: float  # lowest best-cosine of a missing key term to an answer word (1: none)
    missing_names: float  # capitalised question words absent from the cited passages
    missing_numbers: float  # numbers of the question absent from the cited passages
    type_asked: float  # 1 when the question asks for a type (who/when/how many/where)
    type_found: float  # 1 when it does and an answer sentence holds a new candidate of it
    negation_mismatch: float  # the question is negated and no cited passage is
    negated: float  # the question holds a negation (not, never, no...)
    unseen_terms: float  # question words in no retrieved passage and not paraphrased in the answer
    unsupported: float  # share of answer sentences that verification did not support
    key_terms: float  # how many key terms the question has
    align_answer_min: float  # lowest alignment of a question content word in the answer
    align_answer_second: float  # second lowest (1 when there is one word)
    align_answer_mean: float  # mean alignment of the question content words in the answer
    align_passage_min: float  # lowest alignment of a question content word in the passage
    align_passage_mean: float  # the mean, in the cited passages
    unaligned_answer: float  # question content words below ALIGN_COSINE in the answer
    unaligned_passage: float  # ... and in the cited passages
    focus_answer: float  # alignment in the answer of the question's focus (word after wh-word)
    focus_passage: float  # ... in the cited passages
    novel_answer: float  # share of the answer's content words no question word aligns with

    def vector(self) -> np.ndarray:
        return np.array(astuple(self), dtype=np.float64)


FEATURE_NAMES = tuple(f.name for f in fields(Features))
#: The alignment features: computed only when the model reads them (they cost an encode).
ALIGNMENT = tuple(n for n in FEATURE_NAMES
                  if n.startswith(("align_", "unaligned_", "focus_", "novel_")))


@dataclass(frozen=True)
class Judgement:
    probability: float  # that the drafted answer answers the question
    features: Features


#: Words that shape a question but never need to be found in its answer.

def key_terms(question: str, hits: Sequence[Hit]) -> list[str]:
    """The question's content words (surface forms) beyond the topic of the retrieved passages.

    A word stated by most retrieved passages is what they are all about, not what the
    question asks of them; when every word is such a topic word, they are all kept."""
    terms = _surface(question)
    if len(hits) < TOPIC_MIN_PASSAGES:
        return terms
    passage_words = [set(words(h.text)) for h in hits]
    beyond = [t for t in terms if not words(t) or
              not all(set(words(t)) <= pw for pw in passage_words)]
    return beyond or terms


def _present(term: str, stems: set[str]) -> bool:
    w = words(term)
    return bool(w) and set(w) <= stems



def features(vectors: Vectors, question: str,
             sentences: Sequence[tuple[str, Sequence[int], bool]], hits: Sequence[Hit],
             evidence: float, tokens: Tokens | None = None, aligned: bool = True) -> Features:
    """``sentences``: the answer's (text, cited 1-based passage numbers, supported).
    ``tokens``: contextual word vectors (default: from the model behind ``vectors``).
    ``aligned=False`` skips the alignment features (NaN), for a model that does not read them."""
    cited = sorted({n - 1 for _, c, _ in sentences for n in c if 0 < n <= len(hits)})
    if not cited and hits:
        cited = [0]
    passages = " ".join(hits[i].text for i in cited)
    answer = " ".join(t for t, _, _ in sentences)
    terms = key_terms(question, hits)
    p_stems, s_stems = set(words(passages)), set(words(answer))
    in_sent = [t for t in terms if _present(t, s_stems)]
    in_pass = [t for t in terms if _present(t, p_stems)]
    missing = [t for t in terms if t not in in_pass]
    all_stems = set(words(" ".join(h.text for h in hits)))
    unseen = [t for t in _surface(question) if words(t) and not _present(t, all_stems)]
    worst, paraphrased, unparaphrased = 1.0, len(in_pass), len(unseen)
    if missing or unseen:  # paraphrased in the answer? (its words: a passage's cost too much)
        pwords = _surface(answer)
        asked = list(dict.fromkeys(missing + unseen))
        if pwords:
            best = dict(zip(asked, (vectors(asked) @ vectors(pwords).T).max(axis=1)))
        else:
            best = dict.fromkeys(asked, 0.0)
        if missing:
            worst = float(min(best[t] for t in missing))
            paraphrased += sum(best[t] >= PARAPHRASE_COSINE for t in missing)
        unparaphrased = sum(best[t] < PARAPHRASE_COSINE for t in unseen)
    vecs = vectors([question] + [t for t, _, _ in sentences]) if sentences else None
    kind = expected_type(question)
    low = passages.lower()
    max_sparse = max((h.sparse for h in hits), default=0.0)
    n_terms = max(1, len(terms))
    return Features(
        evidence=float(evidence),
        sentence_cosine=float((vecs[1:] @ vecs[0]).max()) if vecs is not None else 0.0,
        dense_cited=max((hits[i].dense for i in cited), default=0.0),
        cited_rank=1.0 / (1 + min(cited)) if cited else 0.0,
        sparse_share=max((hits[i].sparse for i in cited), default=0.0) / max_sparse
        if max_sparse > 0 else 0.0,
        cover_sentence=len(in_sent) / n_terms,
        cover_passage=len(in_pass) / n_terms,
        paraphrased=paraphrased / n_terms,
        worst_term=worst,
        missing_names=float(sum(1 for n in names(question) if n.lower() not in low)),
        missing_numbers=float(sum(1 for n in _NUMBER.findall(question) if n not in passages)),
        type_asked=float(kind is not None),
        type_found=float(any(has_type(kind, t, question) for t, _, _ in sentences)),
        negation_mismatch=float(bool(_NEGATION.search(question)) and
                                not any(_NEGATION.search(hits[i].text) for i in cited)),
        negated=float(bool(_NEGATION.search(question))),
        unseen_terms=float(unparaphrased),
        unsupported=sum(not s for _, _, s in sentences) / max(1, len(sentences)),
        key_terms=float(len(terms)),
        **(alignment(tokens or tokens_for(vectors), question, [t for t, _, _ in sentences],
                     [hits[i].text for i in cited]) if aligned else
           dict.fromkeys(ALIGNMENT, float("nan"))),
    )


@dataclass(frozen=True)
class Model:
    """A learnt probability that a drafted answer answers its question, one of two kinds:

    * ``logistic``: p = sigmoid(bias + weights . (x - mean) / scale);
    * ``stumps`` (gradient-boosted one-split trees): p = sigmoid(bias + sum over the stumps of
      ``left`` when x[feature] <= threshold else ``right``)."""

    names: tuple[str, ...]
    threshold: float
    bias: float
    kind: str = "logistic"
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stumps: tuple[tuple[int, float, float, float], ...] = ()  # (column, threshold, left, right)

    def margin(self, x: np.ndarray) -> np.ndarray:
        """``x``: full feature vectors (FEATURE_NAMES order); the model reads its own columns."""
        cols = [FEATURE_NAMES.index(n) for n in self.names]
        z = np.atleast_2d(x)[:, cols]
        if self.kind == "stumps":
            out = np.full(len(z), self.bias)
            for c, t, left, right in self.stumps:
                out += np.where(z[:, c] <= t, left, right)
            return out
        return self.bias + ((z - self.mean) / self.scale) @ self.weights

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.margin(x)))

    @classmethod
    def from_json(cls, data: dict) -> "Model":
        if not set(data["features"]) <= set(FEATURE_NAMES):
            raise DocchatError(f"{MODEL_PATH.name} was trained on other features; retrain it: "
                               "python benchmarks/train_answerability.py")
        kind = data.get("kind", "logistic")
        if kind == "stumps":
            return cls(tuple(data["features"]), float(data["threshold"]), float(data["bias"]),
                       kind, stumps=tuple((int(c), float(t), float(a), float(b))
                                          for c, t, a, b in data["stumps"]))
        return cls(tuple(data["features"]), float(data["threshold"]), float(data["bias"]),
                   kind, np.array(data["mean"]), np.array(data["scale"]),
                   np.array(data["weights"]))


@lru_cache(maxsize=1)
def model(path: Path = MODEL_PATH) -> Model:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DocchatError(f"the answerability model {path} cannot be read ({e}); rebuild it: "
                           "python benchmarks/train_answerability.py") from e
    return Model.from_json(data)


def judge(vectors: Vectors, question: str,
          sentences: Sequence[tuple[str, Sequence[int], bool]], hits: Sequence[Hit],
          evidence: float) -> Judgement:
    """The probability that the drafted ``sentences`` answer ``question``."""
    m = model()
    f = features(vectors, question, sentences, hits, evidence,
                 aligned=any(n in ALIGNMENT for n in m.names))
    return Judgement(round(float(m.probability(f.vector())[0]), 4), f)
