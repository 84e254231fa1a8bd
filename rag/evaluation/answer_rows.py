"""Shape of the answers an eval run gave: headings given as answers, sentences not verbatim in
the passage they cite. Kept apart from rag.evaluation.squad_rows (answer correctness, abstention)."""
from __future__ import annotations

from typing import Sequence

from rag.ingest.structure import titleish
from rag.types import Answer


def heading_like(sentence: str) -> bool:
    """A title or heading given as a sentence: short, title-like, no end punctuation."""
    return titleish(sentence)


def answer_shape(answers: Sequence[Answer]) -> dict[str, float | None]:
    """``heading_only_answers``: share of answers whose every sentence is a heading-like line
    (goal 0); ``sentences_verbatim``: share of answer sentences found word for word in every
    source they cite (the extractive engine's guarantee: goal 1.0)."""
    given = [a for a in answers if not a.abstained and a.sentences]
    heading_only = sum(all(heading_like(s.text) for s in a.sentences) for a in given)
    sentences = verbatim = 0
    for a in given:
        texts = {src.n: " ".join(src.text.split()) for src in a.sources}
        for s in a.sentences:
            sentences += 1
            verbatim += bool(s.citations) and all(s.text in texts[n] for n in s.citations)
    return {
        "heading_only_answers": round(heading_only / len(given), 4) if given else None,
        "sentences_verbatim": round(verbatim / sentences, 4) if sentences else None,
    }
