"""The answer checker: does this one sentence answer the question?

The product cites sentences, so the decision that matters is made sentence by sentence. The
checker is the span reader's architecture (the packaged MiniLM with trained low-rank updates,
run by rag.answering.span_reader.SpanReader on torch or ONNX Runtime) trained on the
question with **one sentence** (benchmarks/train_checker.py): the answer's sentence against
the sentences that fool a passage-level reader, those sharing the most words with the
question but not its answer (same paragraph, another paragraph of the article), the
answer's sentence under a question perturbed to ask something it does not say, and SQuAD
2.0's real unanswerables. rag.answer reads a handful of candidate sentences in one batched
pass: the best of them (the checker's probability with the reader's and the evidence score)
opens the answer, its span marked, and the answer abstains when one decision (``decide``) over the checker's
best probability, the reader's and the retrieval's closeness, calibrated together, says
the passages do not answer.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from rag.answering.evidence import Evidence
from rag.answering.span_reader import DOCS, SpanReader

NAME = "checker"
WEIGHTS, META = DOCS / f"{NAME}.safetensors", DOCS / f"{NAME}.json"
#: Sentences read per question: the one holding each passage's best reader span, then the
#: best by evidence score, to this many.
CANDIDATES = 8
BY_EVIDENCE = 3
#: The opening sentence is the candidate with the highest checker probability + READER x its
#: passage's reader probability + EVIDENCE x its evidence score (chosen on the calibration
#: articles: the gold answer is in it for 0.740 of answerable questions, against 0.710 for the
#: reader's sentence and 0.695 for the checker's alone; benchmarks/calibrate_checker.py).
READER, EVIDENCE = 0.5, 0.5


@dataclass(frozen=True)
class Check:
    """The checker's reading of one evidence sentence: p that it answers the question and the
    span inside it (page offsets; empty when none)."""

    sentence: int  # index into Evidence.sentences
    probability: float
    score: float  # what orders the candidates (``READER``, ``EVIDENCE``)
    start: int
    end: int
    span: str


def enabled(settings) -> bool:
    """Runs when its threshold is above 0, the span reader runs (the decision takes the
    reader's probability in, and its candidates come from the reader's spans; neither runs
    with a remote embedding server, which means no local model) and its weights and a record
    with the decision are installed."""
    from rag.answering.span_reader import enabled as reader_enabled

    return settings.checker_threshold > 0 and reader_enabled(settings) and installed()


@lru_cache(maxsize=1)
def installed() -> bool:
    """Weights, and a record holding the calibrated decision (``calibrate_checker.py fit
    --write``): without them docchat answers as before the checker, never fails."""
    try:
        return WEIGHTS.is_file() and "decision" in json.loads(META.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def reads_whole(settings, question: str) -> bool:
    """Whether the checker reads all of ``question``: it reads 64 tokens, and past that it
    would judge the question by its start (a 2,000-character question repeating itself
    abstained). A longer question is left to the checks that ran before it (the span reader,
    then the answerability check), as the support checker leaves a long claim to the rule."""
    return SpanReader.shared(settings, NAME).windows.question(question) == question


def candidates(ev: Evidence) -> list[int]:
    """Evidence sentences worth checking, at most CANDIDATES, none structural: the sentence
    holding each passage's best reader span (best reading first), then the sentences the
    evidence score ranks highest."""
    out: list[int] = []
    for i in sorted(range(len(ev.readings)), key=lambda i: -ev.readings[i].probability):
        r = ev.readings[i]
        j = ev.sentence_at(i, ev.hits[i].start + r.start)
        if j is not None and not ev.sentences[j].structural and j not in out:
            out.append(j)
    extra = 0
    for j in sorted(range(len(ev.sentences)), key=lambda j: -float(ev.ranking[j])):
        if extra >= BY_EVIDENCE or len(out) >= CANDIDATES:
            break
        if not ev.sentences[j].structural and j not in out:
            out.append(j)
            extra += 1
    return out[:CANDIDATES]


def check(settings, ev: Evidence, sentences: Sequence[int]) -> tuple[Check, ...]:
    """The checker's reading of each sentence (one batched pass), best first by ``score``
    (its probability, READER x its passage's reader probability, EVIDENCE x its evidence
    score). Each sentence is read as it stands on the page (its exact
    span of the passage), so a marked span maps back to page offsets."""
    if not sentences:
        return ()
    texts = []
    for j in sentences:
        s = ev.sentences[j]
        h = ev.hits[s.passage]
        texts.append(h.text[s.start - h.start:s.end - h.start])
    reader = SpanReader.shared(settings, NAME)
    out = []
    for j, t, r in zip(sentences, texts, reader.read(ev.question, texts)):
        s = ev.sentences[j]
        span = r.span.strip()
        lead = len(r.span) - len(r.span.lstrip())
        a = s.start + r.start + lead
        passage = ev.readings[s.passage].probability if ev.readings else 0.0
        score = r.probability + READER * passage + EVIDENCE * float(ev.ranking[j])
        out.append(Check(j, r.probability, round(score, 4), a if span else 0,
                         a + len(span) if span else 0, span))
    return tuple(sorted(out, key=lambda c: -c.score))


def best(checks: Sequence[Check]) -> float:
    """The checker's probability that some candidate answers."""
    return max((c.probability for c in checks), default=0.0)


def logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@lru_cache(maxsize=4)
def _decision(meta: Path = META) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(features, weights + bias) of the recorded decision (checker.json "decision")."""
    d = json.loads(meta.read_text(encoding="utf-8"))["decision"]
    return tuple(d["features"]), tuple(float(w) for w in d["weights"])


def decide(ev: Evidence, checks: Sequence[Check]) -> float:
    """The probability that the passages answer the question: one logistic model over the
    checker's best probability, the reader's best and the best dense cosine of a retrieved
    passage (the features and weights recorded in checker.json, chosen by cross-validation
    on calibration articles: benchmarks/calibrate_checker.py fit). Below
    DOCCHAT_CHECKER_THRESHOLD the answer abstains."""
    signals = {"checker": best(checks),
               "reader": max((r.probability for r in ev.readings), default=0.0),
               "dense": max((h.dense for h in ev.hits), default=0.0), "evidence": ev.best}
    names, w = _decision()
    z = w[-1] + sum(wi * (logit(signals[n]) if n in ("checker", "reader") else signals[n])
                    for n, wi in zip(names, w))
    return 1.0 / (1.0 + math.exp(-z))
