"""Sentence splitting of drafts, citation verification, renumbering of sources.

Every sentence of every engine's draft goes through ``verify``: a citation that does not
support its sentence is removed; a sentence with no citation gets the passage that supports
it, if one does; a sentence nothing supports is marked ``supported=False``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.evidence import (PassageSentence, VectorCache, numbers_present, overlap,
                          passage_sentences)
from rag.sentences import sentence_spans
from rag.types import Hit, Sentence, Source

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING = re.compile(r"^\s*(?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+")
_QUOTE = re.compile(r"[\"“]([^\"”]{3,})[\"”]")


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


def parse_draft(draft: str) -> list[DraftSentence]:
    """Split a draft into sentences and their ``[n]`` markers (markers after a sentence's
    full stop belong to that sentence)."""
    out: list[DraftSentence] = []
    text_all = draft.strip()
    for s, e in sentence_spans(text_all):
        piece = text_all[s:e]
        lead = _LEADING.match(piece)
        if lead and out:  # "... end. [2] Next sentence": the [2] closes the previous one
            prev = out[-1]
            more = tuple(int(n) for n in re.findall(r"\d+", lead.group(0)))
            out[-1] = DraftSentence(prev.text, tuple(dict.fromkeys(prev.cited + more)))
            piece = piece[lead.end():]
        cited = tuple(int(n) for m in _MARKERS.finditer(piece)
                      for n in re.split(r"\s*[,;]\s*", m.group(1)))
        text = " ".join(_MARKERS.sub("", piece).split())
        if not re.search(r"\w", text):
            if out and cited:
                prev = out[-1]
                out[-1] = DraftSentence(prev.text, tuple(dict.fromkeys(prev.cited + cited)))
            continue
        out.append(DraftSentence(text, tuple(dict.fromkeys(cited))))
    return out


def support(cache: VectorCache, claim: str, sents: Sequence[PassageSentence],
            hits: Sequence[Hit]) -> list[tuple[float, PassageSentence | None]]:
    """For each passage: how well it supports ``claim`` (0..1) and its best sentence."""
    norm = " ".join(claim.split()).lower()
    quotes = [q.lower() for q in _QUOTE.findall(claim)]
    vecs = cache.vectors([claim] + [s.text for s in sents]) if sents else None
    out: list[tuple[float, PassageSentence | None]] = []
    for i, h in enumerate(hits):
        text = " ".join(h.text.split()).lower()
        own = [j for j, s in enumerate(sents) if s.passage == i]
        if not own or any(q not in text for q in quotes) or not numbers_present(claim, h.text):
            out.append((0.0, None))
            continue
        sims = vecs[[j + 1 for j in own]] @ vecs[0]
        best = own[int(np.argmax(sims))]
        if norm.rstrip(".!?") in text:
            out.append((1.0, _exact_span(sents, own, norm) or sents[best]))
            continue
        score = 0.5 * float(np.max(sims)) + 0.5 * overlap(claim, h.text)
        out.append((score, sents[best]))
    return out


def _exact_span(sents: Sequence[PassageSentence], own: list[int], norm: str
                ) -> PassageSentence | None:
    for j in own:
        if sents[j].text.lower().rstrip(".!?") in norm or norm.rstrip(".!?") in sents[j].text.lower():
            return sents[j]
    return None


def verify(cache: VectorCache, draft: str, hits: Sequence[Hit], threshold: float
           ) -> list[Verified]:
    sents = passage_sentences(hits)
    out: list[Verified] = []
    for d in parse_draft(draft):
        scores = support(cache, d.text, sents, hits)
        valid = [n for n in d.cited if 1 <= n <= len(hits) and scores[n - 1][0] >= threshold]
        if not valid:  # uncited, or every citation failed: find the passage that supports it
            best = int(np.argmax([s for s, _ in scores])) if scores else -1
            if best >= 0 and scores[best][0] >= threshold:
                valid = [best + 1]
        spans = tuple((n, (scores[n - 1][1].start, scores[n - 1][1].end)) for n in valid
                      if scores[n - 1][1] is not None)
        out.append(Verified(d.text, tuple(valid), bool(valid), spans))
    return out


def number_sources(verified: Sequence[Verified], hits: Sequence[Hit]
                   ) -> tuple[list[Sentence], list[Source]]:
    """Renumber passages by first citation; uncited retrieved passages follow, unnumbered
    in the text. Returns the answer's sentences and its sources."""
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
    sentences = [Sentence(v.text, tuple(new[n] for n in v.cited), v.supported) for v in verified]
    return sentences, sources


def render_markers(sentences: Sequence[Sentence]) -> str:
    """The answer text with inline markers: ``Sentence. [1][2]``."""
    parts = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        parts.append(f"{s.text} {marks}".strip())
    return " ".join(parts)
