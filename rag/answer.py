"""ask(): question -> retrieval -> evidence check -> engine draft -> verified, cited Answer."""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Iterator, Sequence

from rag.answering.answer_check import candidates, check, decide, reads_whole, \
    enabled as checker_enabled
from rag.answering import entailment
from rag.answering.answerability import judge
from rag.answering.citations import number_sources, render_markers, verify
from rag.engines import Engine, get_engine
from rag.errors import QuestionError
from rag.answering.evidence import Evidence, build_evidence
from rag.answering.span_reader import SpanReader, enabled as reader_enabled
from rag.retrieval import recent_turns
from rag.settings import Settings
from rag.types import CANNOT_ANSWER, Abstention, Answer, Hit, Stage

log = logging.getLogger(__name__)
History = Sequence[tuple[str, str]]  # (user, assistant) turns, oldest first
#: A sentence other than the opening one gets its answer marked when the answer checker
#: gives it at least this probability of answering (more likely than not)
MARK_OTHER_SPANS = 0.5


def check_question(question: str, max_chars: int) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty")
    if len(q) > max_chars:
        raise QuestionError(f"the question is {len(q):,} characters long; the limit is "
                            f"{max_chars:,} (DOCCHAT_MAX_QUESTION_CHARS)")
    return q


def evidence(index, question: str, hits: Sequence[Hit]) -> float:
    """The best match between the question and any sentence of the retrieved passages."""
    return build_evidence(index.embedder(), question, hits).best


def ask(index, question: str, history: History = (), engine: str | None = None,
        k: int | None = None, settings: Settings | None = None,
        documents: Sequence[str] | None = None) -> Answer:
    """Answer ``question`` from ``index``; every sentence cites verified sources. With
    ``documents`` (ids or paths of files and folders), only those documents are searched."""
    answer = None
    for event in ask_stream(index, question, history, engine, k, settings, documents):
        if isinstance(event, Answer):
            answer = event
    assert answer is not None
    return answer


def ask_stream(index, question: str, history: History = (), engine: str | None = None,
               k: int | None = None, settings: Settings | None = None,
               documents: Sequence[str] | None = None) -> Iterator[str | Answer]:
    """Yield the engine's draft piece by piece (str), then the verified Answer; before the
    slow steps a Stage says what is being done (a display hint, not part of the answer).

    ``settings`` overrides the index's settings for this question (engine options, k)."""
    t0 = time.perf_counter()
    settings = settings or index.settings
    q = check_question(question, settings.max_question_chars)
    engine_name = engine or settings.engine
    eng = get_engine(engine_name, settings)  # unknown engine: fail before any work
    users = [u for u, _ in history]
    scope = index.scope(documents)  # an empty or unknown scope fails before any work
    hits = index.search(q, k or settings.top_k, history=users,
                        documents=scope)
    yield Stage(f"Reading the {len(hits)} best passage{'s' * (len(hits) != 1)}…")
    ev = build_evidence(index.embedder(), q, hits, recent_turns(users, settings.history_turns))
    for event in answer_stream(ev, eng, history, settings, t0):
        yield replace(event, scope=scope.paths) if scope and isinstance(event, Answer) \
            else event


def answer_stream(ev: Evidence, eng: Engine, history: History, settings: Settings,
                  t0: float | None = None) -> Iterator[str | Answer]:
    """The part of ``ask_stream`` after retrieval: abstain on weak evidence, else stream the
    engine's draft and yield the verified Answer, or an abstention when the answerability
    check (rag.answering.answerability) finds that the draft does not answer the question."""
    t0 = time.perf_counter() if t0 is None else t0
    q, hits, score = ev.question, ev.hits, ev.best
    close = max((h.dense for h in hits), default=0.0) >= settings.paraphrase_dense
    if score < settings.abstain_threshold and not close:
        yield _abstain(q, hits, eng.name, score, t0, "below the evidence threshold", Abstention.NO_EVIDENCE)
        return
    confidence = None
    if checker_enabled(settings) and hits and reads_whole(settings, q):
        # which sentence answers, and does any? one batched pass over the best sentences by
        # evidence: the only model pass after retrieval
        checks = check(settings, ev, candidates(ev))
        p = decide(ev, checks)  # the checker's and retrieval's view in one
        if p < settings.checker_threshold:
            yield _abstain(q, hits, eng.name, score, t0,
                           f"no sentence of the passages answers it (checker {p:.2f})",
                           Abstention.NOT_IN_PASSAGES, p)
            return
        ev = replace(ev, checks=checks)
        confidence = p
    elif reader_enabled(settings) and hits:  # the checker cannot run (off, not installed, a
        # question longer than it reads): the span reader over every retrieved passage
        readings = tuple(SpanReader.shared(settings).read(q, [h.text for h in hits]))
        best = max(r.probability for r in readings)
        if best < settings.reader_threshold:
            yield _abstain(q, hits, eng.name, score, t0,
                           f"no passage holds an answer (reader {best:.2f})",
                           Abstention.NOT_IN_PASSAGES, best)
            return
        ev = replace(ev, readings=readings)
        confidence = best
    pieces = []
    for piece in eng.draft(q, ev, history):
        pieces.append(piece)
        yield piece
    draft = "".join(pieces).strip()
    if not draft or CANNOT_ANSWER.lower().rstrip(".") in draft.lower():
        yield _abstain(q, hits, eng.name, score, t0, "the engine found no answer",
                           Abstention.ENGINE_FOUND_NONE)
        return
    yield Stage("Checking each sentence against its passage…")
    verified = verify(ev, draft, settings.support_threshold, entailment.scorer(settings))
    if settings.answerable_threshold > 0 and (not ev.checks or eng.name != "extractive"):
        # does the draft fit the question? For the extractive engine the answer checker has
        # decided that (it replaces this); an LLM's own draft is still judged
        p = judge(ev.encode, q, [(v.text, v.cited, v.supported) for v in verified], hits,
                  score).probability
        if p < settings.answerable_threshold:
            yield _abstain(q, hits, eng.name, score, t0,
                           f"the answer does not fit the question (answerability {p:.2f})",
                           Abstention.DOES_NOT_FIT)
            return
    sentences, sources = number_sources(verified, hits, answer_spans(ev, verified))
    answer = Answer(question=q, answer=render_markers(sentences), abstained=False,
                    sentences=tuple(sentences), sources=tuple(sources), engine=eng.name,
                    evidence=round(score, 4), seconds=round(time.perf_counter() - t0, 4),
                    confidence=confidence)
    yield answer


def answer_spans(ev: Evidence, verified) -> dict[int, tuple[int, int, int, str]]:
    """Per verified sentence (by position): the answer span (page offsets and text) inside
    that sentence's cited span and in its text (an LLM's sentence may cite a passage span
    without saying the answer): the answer checker's in the opening sentence, or in another
    candidate it finds likely to answer (MARK_OTHER_SPANS), else the span reader's; else
    nothing."""
    out = {}
    for k, v in enumerate(verified):
        for c in ev.checks:  # the opening one, and others the checker believes answer
            if c is not ev.checks[0] and c.probability < MARK_OTHER_SPANS:
                continue
            n = ev.sentences[c.sentence].passage + 1
            if c.span and " ".join(c.span.split()) in " ".join(v.text.split()) and \
                    any(m == n and a <= c.start and c.end <= b for m, (a, b) in v.spans):
                out[k] = (n, c.start, c.end, c.span)
                break
        if k in out:
            continue
        for n, (a, b) in v.spans:
            if not ev.readings or not 0 < n <= len(ev.readings):
                continue
            r, h = ev.readings[n - 1], ev.hits[n - 1]
            s, e = h.start + r.start, h.start + r.end
            if r.span.strip() and a <= s and e <= b:
                out[k] = (n, s, e, r.span)
                break
    return out


def _abstain(q: str, hits: Sequence[Hit], engine: str, score: float, t0: float,
             why: str, reason: Abstention, confidence: float | None = None) -> Answer:
    _, sources = number_sources([], hits)
    return Answer(question=q, answer=CANNOT_ANSWER, abstained=True, sources=tuple(sources),
                  engine=engine, evidence=round(score, 4),
                  seconds=round(time.perf_counter() - t0, 4), notes=(why,), abstention=reason,
                  confidence=confidence)
