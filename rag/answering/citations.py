"""Sentence splitting of drafts, citation verification, renumbering of sources.

Every sentence of every engine's draft goes through ``verify``: a citation that does not
support its sentence is removed; a sentence with no citation gets the passage that supports
it, if one does; a sentence nothing supports is marked ``supported=False``. One passage must
support a sentence on its own: words taken from a second passage (a title glued to another
file's sentence) make it unsupported, and so do a changed number or an added negation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.answering.entailment import Scorer
from rag.answering.evidence import Evidence, PassageSentence, numbers_present, overlap
from rag.lexical import words
from rag.sentences import sentence_spans
from rag.types import AnswerSpan, Hit, Sentence, Source

#: one or more adjacent citation markers: "[1]", "[1, 3]", "[2][3]"
_MARKER = r"\[\d+(?:\s*[,;]\s*\d+)*\]"
_MARKER_RUN = re.compile(rf"\s*{_MARKER}(?:\s*{_MARKER})*")
_QUOTE = re.compile(r"[\"“]([^\"”]{3,})[\"”]")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|neither|nobody|nothing|without|cannot)\b"
                       r"|n't\b", re.I)
_MASK = "\ufff9"  # stands for "[" inside quoted passage text while markers are found
#: punctuation right after a marker that closes the sentence before it ("claim [1].")
_TAIL_PUNCT = re.compile(r"^[.!?…:;,\"'”’)\]]+(?=\s|$)")
#: Content words of a claim that a passage lacks but another retrieved passage has: this many
#: (and this share of the claim's content words) mean the claim was glued from two passages.
GLUE_MIN_WORDS = 2
GLUE_MIN_SHARE = 0.2
#: Two draft sentences whose words overlap this much (shared / all) say the same thing.
DUPLICATE_WORDS = 0.8


@dataclass(frozen=True)
class DraftSentence:
    text: str  # without markers
    cited: tuple[int, ...]  # 1-based passage numbers as the engine wrote them


@dataclass(frozen=True)
class Verified:
    text: str
    cited: tuple[int, ...]  # 1-based passage numbers that support the sentence
    supported: bool
    spans: tuple[tuple[int, tuple[int, int]], ...]  # (passage, page span) per citation


def parse_draft(draft: str, passages: int | None = None, quoted: Sequence[str] = ()
                ) -> list[DraftSentence]:
    """Split a draft into sentences and their ``[n]`` markers.

    A marker always closes a sentence: ``A [1] B [2]`` is two sentences whatever the
    punctuation, so no sentence spans two citations. Punctuation right after a marker
    (``claim [1].``) and markers right after a full stop (``claim. [1]``) belong to the
    sentence before. With ``passages`` given, a bracketed number above it is text, not a
    marker (a passage may quote "[12]" from a paper); brackets inside ``quoted`` texts (the
    passage sentences that contain any) are text wherever the draft quotes them."""
    out: list[DraftSentence] = []
    text = draft.strip()
    for q in sorted({q for q in quoted if "[" in q}, key=len, reverse=True):
        text = text.replace(q, q.replace("[", _MASK))
    pos = 0
    for m in _MARKER_RUN.finditer(text):
        cited = tuple(int(n) for n in re.findall(r"\d+", m.group(0)))
        if passages is not None and any(n < 1 or n > passages for n in cited):
            continue
        _add_text(out, text[pos:m.start()], close=cited)
        pos = m.end()
    _add_text(out, text[pos:], close=())
    return [DraftSentence(d.text.replace(_MASK, "["), d.cited) for d in out
            if re.search(r"\w", d.text)]


def _add_text(out: list[DraftSentence], piece: str, close: tuple[int, ...]) -> None:
    """Append the sentences of ``piece``; the last one takes the citations ``close``."""
    tail = _TAIL_PUNCT.match(piece)
    if tail and out:  # "claim [1]. Next": the "." ends the sentence before
        prev = out[-1]
        out[-1] = DraftSentence(prev.text + tail.group(0), prev.cited)
        piece = piece[tail.end():]
    sents = [" ".join(piece[s:e].split()) for s, e in sentence_spans(piece)]
    sents = [s for s in sents if s]
    if not sents:
        if close and out:  # "claim. [1]" or "[1][2]" alone: they close the sentence before
            prev = out[-1]
            out[-1] = DraftSentence(prev.text, tuple(dict.fromkeys(prev.cited + close)))
        return
    out.extend(DraftSentence(s, ()) for s in sents[:-1])
    out.append(DraftSentence(sents[-1], tuple(dict.fromkeys(close))))


def complete(draft: str) -> bool:
    """Whether a draft ends where a sentence can end (else its last sentence was cut off)."""
    tail = draft.rstrip()
    return bool(tail) and (tail[-1] in ".!?…\"'”’)]" or tail.endswith("]"))


def drop_repeats(sentences: Sequence[DraftSentence]) -> list[DraftSentence]:
    """Drop sentences that repeat (or nearly repeat) an earlier one of the same draft."""
    kept: list[DraftSentence] = []
    seen: list[set[str]] = []
    for d in sentences:
        ws = set(re.findall(r"\w+", d.text.lower())) or {d.text}
        if any(len(ws & o) / len(ws | o) >= DUPLICATE_WORDS for o in seen):
            continue
        kept.append(d)
        seen.append(ws)
    return kept


def draft_sentences(draft: str, passages: int | None = None, quoted: Sequence[str] = ()
                    ) -> list[DraftSentence]:
    """The sentences of a draft that may become answer sentences: parsed at its markers,
    without a last sentence the generation cut off mid-way (no end punctuation, no marker)
    and without repeats of an earlier sentence."""
    parsed = parse_draft(draft, passages, quoted)
    if parsed and not complete(draft) and not parsed[-1].cited:
        parsed = parsed[:-1]
    return drop_repeats(parsed)


def support(ev: Evidence, claim: str, entail: Scorer | None = None
            ) -> list[tuple[float, PassageSentence | None]]:
    """For each passage: how well it supports ``claim`` on its own (0..1) and the sentence
    the support rests on (never a structural line). A claim that is not verbatim and passes
    the vetoes is scored by ``entail`` (the support checker, rag.answering.entailment: its
    closest sentence, and that sentence with the next one, as premises) when given, else by
    cosine + word overlap."""
    hits = ev.hits
    norm = " ".join(claim.split()).lower()
    quotes = [q.lower() for q in _QUOTE.findall(claim)]
    cw = set(words(claim))
    vocab = [set(words(h.text)) for h in hits]
    claim_vec = ev.encode([claim])[0]
    out: list[tuple[float, PassageSentence | None]] = []
    pending: list[tuple[int, list[str]]] = []  # (position in out, premises) for ``entail``
    for i, h in enumerate(hits):
        text = " ".join(h.text.split()).lower()
        own = [j for j in ev.of_passage(i) if not ev.sentences[j].structural]
        if not own or any(q not in text for q in quotes) or not numbers_present(claim, h.text):
            out.append((0.0, None))
            continue
        exact = _exact_span(ev.sentences, own, norm)
        if exact is not None:
            out.append((1.0, exact))
            continue
        sims = ev.vectors[own] @ claim_vec
        at = int(np.argmax(sims))
        best = ev.sentences[own[at]]
        clause = next((ev.sentences[j] for j in own
                       if norm.rstrip(".!?") in ev.sentences[j].text.lower()), None)
        if clause is not None:  # a verbatim clause of one of its (non-structural) sentences
            out.append((1.0, clause))
            continue
        if _glued(cw, vocab, i) or _negation_differs(claim, best.text):
            out.append((0.0, best))
            continue
        score = 0.5 * float(np.max(sims)) + 0.5 * overlap(claim, h.text)
        out.append((score, best))
        if entail is not None:  # premises: the closest sentence, and it with the next one
            premises = [best]
            nxt = own[at] + 1  # the very next sentence of the passage, not past a heading
            if at + 1 < len(own) and own[at + 1] == nxt:
                after = ev.sentences[nxt]
                premises.append(PassageSentence(best.passage, best.start, after.end,
                                                f"{best.text} {after.text}"))
            pending.append((len(out) - 1, premises))
    if pending:  # one batched pass for every passage's premises (else the rule's scores)
        scores = entail(claim, [p.text for _, ps in pending for p in ps])
        if scores is not None:
            it = iter(scores)
            for i, ps in pending:  # the premise that scores best, so its span is highlighted
                out[i] = max(((next(it), p) for p in ps), key=lambda x: x[0])
    return out


def _exact_span(sents: Sequence[PassageSentence], own: list[int], norm: str
                ) -> PassageSentence | None:
    """The passage sentence the claim is verbatim, else a run of whole sentences of one
    passage the claim is verbatim (returned as the first one's span widened to the last)."""
    key = norm.rstrip(".!?")
    for j in own:
        if sents[j].text.lower().rstrip(".!?") == key:
            return sents[j]
    for a, j in enumerate(own):  # a claim made of consecutive sentences
        joined = sents[j].text.lower()
        for k in own[a + 1:]:
            joined += " " + sents[k].text.lower()
            if joined.rstrip(".!?") == key:
                return PassageSentence(sents[j].passage, sents[j].start, sents[k].end, norm)
            if len(joined) > len(key):
                break
    return None


def _glued(cw: set[str], vocab: list[set[str]], i: int) -> bool:
    """The claim's words that passage ``i`` lacks come from another passage."""
    missing = cw - vocab[i]
    elsewhere = {w for w in missing if any(w in v for k, v in enumerate(vocab) if k != i)}
    return len(elsewhere) >= GLUE_MIN_WORDS and len(elsewhere) >= GLUE_MIN_SHARE * len(cw)


def _negation_differs(claim: str, sentence: str) -> bool:
    return bool(_NEGATION.search(claim)) != bool(_NEGATION.search(sentence))


def verify(ev: Evidence, draft: str, threshold: float, entail: Scorer | None = None
           ) -> list[Verified]:
    """Verify every sentence of ``draft`` against the evidence's passages (``entail``: the
    support checker, see ``support``). Repeated sentences are dropped, and so is a last
    sentence the draft cut off mid-way."""
    out: list[Verified] = []
    quoted = [s.text for s in ev.sentences if "[" in s.text]
    for d in draft_sentences(draft, len(ev.hits), quoted):
        scores = support(ev, d.text, entail)
        valid = [n for n in d.cited if 1 <= n <= len(ev.hits) and scores[n - 1][0] >= threshold]
        if not valid:  # uncited, or every citation failed: find the passage that supports it
            best = int(np.argmax([s for s, _ in scores])) if scores else -1
            if best >= 0 and scores[best][0] >= threshold:
                valid = [best + 1]
        spans = tuple((n, (scores[n - 1][1].start, scores[n - 1][1].end)) for n in valid
                      if scores[n - 1][1] is not None)
        out.append(Verified(d.text, tuple(valid), bool(valid), spans))
    return out


def number_sources(verified: Sequence[Verified], hits: Sequence[Hit],
                   answers: dict[int, tuple[int, int, int, str]] | None = None
                   ) -> tuple[list[Sentence], list[Source]]:
    """Renumber passages by first citation; uncited retrieved passages follow, unnumbered
    in the text. Returns the answer's sentences and its sources. ``answers``: per sentence
    (by position), the exact answer in it as (passage, page start, page end, text)."""
    order: list[int] = []
    for v in verified:
        for n in v.cited:
            if n not in order:
                order.append(n)
    order += [n for n in range(1, len(hits) + 1) if n not in order]
    new = {old: i + 1 for i, old in enumerate(order)}
    spans: dict[int, list[tuple[int, int]]] = {}
    for v in verified:
        for n, span in v.spans:
            if span not in spans.setdefault(n, []):
                spans[n].append(span)
    sources = [Source(n=new[o], path=hits[o - 1].path, page=hits[o - 1].page,
                      start=hits[o - 1].start, end=hits[o - 1].end, text=hits[o - 1].text,
                      score=hits[o - 1].score, label=hits[o - 1].label,
                      highlights=tuple(sorted(spans.get(o, []))))
               for o in order]
    answers = answers or {}
    sentences = [Sentence(v.text, tuple(new[n] for n in v.cited), v.supported,
                          AnswerSpan(answers[k][3], new[answers[k][0]], answers[k][1],
                                     answers[k][2]) if k in answers else None)
                 for k, v in enumerate(verified)]
    return sentences, sources


def render_markers(sentences: Sequence[Sentence]) -> str:
    """The answer text with inline markers: ``Sentence. [1][2]``."""
    parts = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        parts.append(f"{s.text} {marks}".strip())
    return " ".join(parts)
