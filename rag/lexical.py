"""Word-level text handling shared by BM25 and the lexical checks of citations."""
from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def words(text: str) -> list[str]:
    """Lower-cased stemmed content words of ``text`` (stopwords dropped)."""
    stop = stopwords()
    toks = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return _stemmer().stemWords(toks)

