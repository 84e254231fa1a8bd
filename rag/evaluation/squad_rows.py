"""Scoring of answers to SQuAD 2.0 questions (see rag.evaluation.runs.run_squad)."""
from __future__ import annotations

import re
import statistics
import string
from pathlib import Path

from rag.answering.evidence import numbers_present, overlap
from rag.types import Abstention, Answer

#: (short name in the figures, the reason) for the abstention breakdown
ABSTENTION_REASONS = (("evidence", Abstention.NO_EVIDENCE),
                      ("answerability", Abstention.DOES_NOT_FIT),
                      ("reader", Abstention.NOT_IN_PASSAGES),
                      ("engine", Abstention.ENGINE_FOUND_NONE))
STRICT_OVERLAP = 0.8  # independent of the verifier's threshold: most words must be in the source


def normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _pid(path: str) -> str:
    return Path(path).stem


def citation_ok(sentence: str, source_text: str) -> bool:
    """A strict, verifier-independent check that a cited source really holds the sentence."""
    if normalise(sentence) in normalise(source_text):
        return True
    return overlap(sentence, source_text) >= STRICT_OVERLAP and \
        numbers_present(sentence, source_text)


def abstained_by(kind: str, answers: list[Answer]) -> dict[str, float]:
    """Share of ``answers`` that abstained, per reason (the evidence rule, answerability...)."""
    return {f"{kind}_abstained_by_{why}": round(sum(
        a.abstained and a.abstention is reason for a in answers)
        / max(1, len(answers)), 4) for why, reason in ABSTENTION_REASONS}


def token_f1(pred: str, gold: str) -> float:
    """SQuAD's token F1 between a predicted and a gold answer (normalised words)."""
    p, g = normalise(pred).split(), normalise(gold).split()
    common = sum(min(p.count(w), g.count(w)) for w in set(p) & set(g))
    if not p or not g or not common:
        return float(p == g)
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def span_scores(answerable: list[tuple[dict, Answer]]) -> dict:
    """The marked answer span against the gold answers (SQuAD's exact match and token F1;
    an abstention or an answer without a marked span scores 0), and whether the answer's
    first sentence holds a gold answer."""
    em = f1 = first = 0.0
    for q, a in answerable:
        if a.abstained or not a.sentences:
            continue
        span = a.sentences[0].answer.text if a.sentences[0].answer else ""
        em += max(float(normalise(span) == normalise(g)) for g in q["answers"])
        f1 += max(token_f1(span, g) for g in q["answers"])
        first += any(normalise(g) in normalise(a.sentences[0].text) for g in q["answers"])
    n = max(1, len(answerable))
    return {"span_exact_match": round(em / n, 4), "span_f1": round(f1 / n, 4),
            "first_sentence_contains_gold": round(first / n, 4)}


def score_answers(rows: list[tuple[dict, Answer, float]]) -> dict:
    answerable = [(q, a) for q, a, _ in rows if not q["impossible"]]
    impossible = [(q, a) for q, a, _ in rows if q["impossible"]]
    hit1 = hit5 = 0
    for q, a, _ in rows:
        ranked = [_pid(s.path) for s in sorted(a.sources, key=lambda s: -s.score)]
        hit1 += q["pid"] in ranked[:1]
        hit5 += q["pid"] in ranked[:5]
    contains = sum(1 for q, a in answerable if not a.abstained and
                   any(normalise(g) in normalise(a.answer) for g in q["answers"]))
    abst_ans = sum(a.abstained for _, a in answerable)
    abst_imp = sum(a.abstained for _, a in impossible)
    total_abst = abst_ans + abst_imp
    cites = good = sentences = supported = gold = answered = verbatim = 0
    for q, a, _ in rows:
        if a.abstained:
            continue
        by_n = {s.n: s for s in a.sources}
        for s in a.sentences:
            sentences += 1
            supported += s.supported
            verbatim += bool(s.citations) and all(
                normalise(s.text) in normalise(by_n[n].text) for n in s.citations)
            for n in s.citations:
                cites += 1
                good += citation_ok(s.text, by_n[n].text)
        if not q["impossible"]:
            answered += 1
            gold += any(_pid(by_n[n].path) == q["pid"] for s in a.sentences for n in s.citations)
    n = max(1, len(rows))
    return {
        "hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4),
        "answer_contains_gold": round(contains / max(1, len(answerable)), 4),
        "answerable_abstained": round(abst_ans / max(1, len(answerable)), 4),
        "unanswerable_abstained": round(abst_imp / max(1, len(impossible)), 4),
        "abstention_precision": round(abst_imp / total_abst, 4) if total_abst else None,
        "abstention_recall": round(abst_imp / max(1, len(impossible)), 4),
        "citation_precision": round(good / cites, 4) if cites else None,
        "sentences_supported": round(supported / sentences, 4) if sentences else None,
        # loose (SQuAD's normalisation: case, punctuation, articles); the strict, word-for-word
        # share is answer_rows' "sentences_verbatim" (the two used to share a name)
        "sentences_verbatim_normalised": round(verbatim / sentences, 4) if sentences else None,
        "answer_contains_gold_when_answered": round(
            contains / max(1, len(answerable) - abst_ans), 4),
        **span_scores(answerable),
        **abstained_by("answerable", [a for _, a in answerable]),
        **abstained_by("unanswerable", [a for _, a in impossible]),
        "cites_gold_paragraph": round(gold / answered, 4) if answered else None,
        "sentences_per_answer": round(sentences / max(1, n - total_abst), 2),
        "median_seconds": round(statistics.median(t for _, _, t in rows), 4) if rows else None,
        "answerable": len(answerable), "unanswerable": len(impossible),
    }
