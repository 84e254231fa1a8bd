"""The default engine: no LLM. Picks the sentences of the passages that best answer the
question and cites each one, verbatim. The best-scoring sentence comes first; a further
sentence joins only when it scores close to it and adds words the answer does not have yet
(the other parts of a list answer); those follow in reading order. Structural lines
(titles, headings, TOC lines) are never picked."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from rag.answering.evidence import Evidence
from rag.lexical import words
from rag.settings import Settings

REPEAT_COSINE = 0.9  # sentences this similar say the same thing
NEW_WORDS = 2  # a further sentence must bring at least this many content words not yet said


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def draft(self, question: str, evidence: Evidence,
              history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        """Each sentence as soon as its place in the answer is known: the best one the moment
        it is found, the others (in reading order) once the search for them is over."""
        sents = evidence.sentences
        if evidence.checks or evidence.readings:  # the answer checker's (else the span
            s = self.settings  # reader's) best sentence opens; the other parts of a list
            first = [evidence.checks[0].sentence] if evidence.checks else \
                evidence.reading_sentences(s.reader_threshold, s.reader_keep, 1)  # answer
            # join as before
            rest = [i for i in pick(evidence, s.extractive_keep, s.max_answer_sentences)
                    if i not in first][:s.max_answer_sentences - len(first)]
            picks = iter(first + rest)
        else:
            picks = pick(evidence, self.settings.extractive_keep,
                         self.settings.max_answer_sentences)
        for n, i in enumerate(in_answer_order(picks, sents)):
            yield ("" if n == 0 else " ") + f"{sents[i].text} [{sents[i].passage + 1}]"


def in_answer_order(picks: Iterator[int], sents) -> Iterator[int]:
    """The first pick at once; the later ones sorted in reading order once all are known."""
    first = next(picks, None)
    if first is None:
        return
    yield first
    yield from sorted(picks, key=lambda i: (sents[i].passage, sents[i].start))


def pick(ev: Evidence, keep: float, most: int) -> Iterator[int]:
    """The answer sentences as they are chosen, best-scoring first: a sentence joins when it
    scores within ``keep`` of the best, says something new and is not structural."""
    sents, scores, vecs = ev.sentences, ev.ranking, ev.vectors
    chosen: list[int] = []
    said: set[str] = set(words(ev.question))
    for i in np.argsort(-scores, kind="stable"):
        i = int(i)
        if sents[i].structural:
            continue
        if chosen and scores[i] < keep * scores[chosen[0]]:
            break
        if any(float(vecs[i] @ vecs[j]) > REPEAT_COSINE or sents[i].text == sents[j].text
               for j in chosen):
            continue
        new = set(words(sents[i].text)) - said
        if chosen and len(new) < NEW_WORDS:
            continue
        chosen.append(i)
        yield i
        said |= new
        if len(chosen) >= most:
            break
