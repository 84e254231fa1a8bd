"""The answer checker: does this one sentence answer the question?

The product cites sentences, so the decision that matters is made sentence by sentence. The
checker is the span reader's architecture (the packaged MiniLM with trained low-rank updates,
run by rag.answering.span_reader.SpanReader on torch or ONNX Runtime) trained on the
question with **one sentence** (benchmarks/train_checker.py): the answer's sentence against
the sentences that fool a passage-level reader, those sharing the most words with the
question but not its answer (same paragraph, another paragraph of the article), the
answer's sentence under a question perturbed to ask something it does not say, and SQuAD
2.0's real unanswerables. rag.answer reads the 6 sentences best by evidence in one batched
pass, the extractive engine's only model pass after retrieval: the best of them (the
checker's probability with the evidence score) opens the answer, its span marked, and the
answer abstains when one decision (``decide``) over the checker's best probability and the
retrieval's closeness (dense cosine, evidence score), calibrated together, says the
passages do not answer. The span reader runs only when the
checker cannot (not installed, switched off, or a question longer than it reads).
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
SIGNALS = {"checker", "dense", "evidence"}  # what a recorded decision may read
WEIGHTS, META = DOCS / f"{NAME}.safetensors", DOCS / f"{NAME}.json"
#: Sentences read per question: the best by evidence score (not structural). Chosen on the
#: calibration articles (benchmarks/calibrate_checker.py designs): the 6 best hold the gold
#: answer for 0.859 of answerable questions and allow the best decision by cross-validation
#: (23.5% of unanswerable abstained, 4.4% of answerable), against 0.886 and 22.0% / 7.6%
#: for the earlier choice (each passage's span-reader sentence and 3 by evidence), which
#: needed the span reader's pass over every passage first.
CANDIDATES = 6
#: The opening sentence is the candidate with the highest checker probability + EVIDENCE x
#: its evidence score (the gold answer is in it for 0.723 of answerable calibration
#: questions, 0.691 for the checker's alone; ``designs``).
EVIDENCE = 1.0


@dataclass(frozen=True)
class Check:
    """The checker's reading of one evidence sentence: p that it answers the question and the
    span inside it (page offsets; empty when none)."""

    sentence: int  # index into Evidence.sentences
    probability: float
    score: float  # what orders the candidates (probability + ``EVIDENCE`` x evidence)
    start: int
    end: int
    span: str


def enabled(settings) -> bool:
    """Runs when its threshold is above 0, a local model runs (not with a remote embedding
    server, which means no local model) and its weights and a record with the decision are
    installed. When it runs, it replaces the span reader's pass (rag.answer)."""
    return settings.checker_threshold > 0 and not settings.embed_url and installed()


@lru_cache(maxsize=1)
def installed() -> bool:
    """Weights, and a record holding a calibrated decision over signals ``decide`` has
    (``calibrate_checker.py fit --write``): without them docchat answers as before the
    checker (the span reader), never fails."""
    try:
        d = json.loads(META.read_text(encoding="utf-8")).get("decision") or {}
        return WEIGHTS.is_file() and bool(d) and set(d["features"]) <= SIGNALS and \
            len(d["weights"]) == len(d["features"]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        return False


def reads_whole(settings, question: str) -> bool:
    """Whether the checker reads all of ``question``: it reads 64 tokens, and past that it
    would judge the question by its start (a 2,000-character question repeating itself
    abstained). A longer question is left to the checks that ran before it (the span reader,
    then the answerability check), as the support checker leaves a long claim to the rule."""
    return SpanReader.shared(settings, NAME).windows.question(question) == question


def candidates(ev: Evidence) -> list[int]:
    """Evidence sentences worth checking: the CANDIDATES best by evidence score, none
    structural, each text once (overlapping chunks repeat a sentence: its first, best
    ranked copy is read)."""
    out: list[int] = []
    seen: set[str] = set()
    for j in sorted(range(len(ev.sentences)), key=lambda j: -float(ev.ranking[j])):
        s = ev.sentences[j]
        if not s.structural and s.text not in seen:
            out.append(j)
            seen.add(s.text)
            if len(out) == CANDIDATES:
                break
    return out


def check(settings, ev: Evidence, sentences: Sequence[int]) -> tuple[Check, ...]:
    """The checker's reading of each sentence (one batched pass), best first by ``score``
    (its probability + EVIDENCE x its evidence score). Each sentence is read as it stands on the page (its exact
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
        score = r.probability + EVIDENCE * float(ev.ranking[j])
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
    checker's best probability, the best dense cosine of a retrieved passage and the best
    evidence score (the features and weights recorded in checker.json, chosen by
    cross-validation on calibration articles: benchmarks/calibrate_checker.py fit). Below
    DOCCHAT_CHECKER_THRESHOLD the answer abstains."""
    signals = {"checker": best(checks),
               "dense": max((h.dense for h in ev.hits), default=0.0), "evidence": ev.best}
    names, w = _decision()
    z = w[-1] + sum(wi * (logit(signals[n]) if n == "checker" else signals[n])
                    for n, wi in zip(names, w))
    return 1.0 / (1.0 + math.exp(-z))
