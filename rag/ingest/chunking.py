"""pages -> chunks: sentence-aware windows measured in the embedding model's own tokens.

Invariant (tested): ``chunk.text == page.text[chunk.start:chunk.end]``; the chunks of a page
start at 0, end at ``len(page.text)``, and each starts no later than the previous one ends, so
the page text can be rebuilt exactly from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from rag.sentences import sentence_spans
from rag.types import Chunk, Page

#: Given texts, return for each the (start, end) character offsets of its tokens.
TokenOffsets = Callable[[Sequence[str]], list[list[tuple[int, int]]]]


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int


def chunk_pages(pages: Sequence[Page], offsets: TokenOffsets, max_tokens: int,
                overlap: int) -> list[Chunk]:
    """The chunks of a file's pages; each knows the heading path above it ("Title >
    Section"), carried over from page to page."""
    out: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, text) of the open headings
    for p in pages:
        out.extend(chunk_page(p, offsets, max_tokens, overlap, path))
        path = _path_at(p, len(p.text) + 1, path)
    return out


def chunk_page(page: Page, offsets: TokenOffsets, max_tokens: int, overlap: int,
               above: Sequence[tuple[int, str]] = ()) -> list[Chunk]:
    """``above``: the heading path open where the page starts (from earlier pages)."""
    units = _units(page.text, offsets, max_tokens, page.structure)
    windows = _windows(units, max_tokens, overlap)
    return [Chunk(page=page.page, start=s, end=e, text=page.text[s:e], label=page.label,
                  context=" > ".join(t for _, t in _path_at(page, s, above)),
                  structure=tuple(x for x in page.structure if s <= x[0] and x[1] <= e))
            for s, e in windows]


def _path_at(page: Page, at: int, above: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The headings (levels 0-6) open at offset ``at``: each heading closes the ones of its
    level and below. Headings starting at ``at`` or later are not included."""
    path = list(above)
    for start, end, level in page.structure:
        if start >= at or level > 6:
            continue
        path = [(lv, t) for lv, t in path if lv < level]
        path.append((level, " ".join(page.text[start:end].lstrip("#").split())))
    return path


def _units(text: str, offsets: TokenOffsets, max_tokens: int,
           structure: Sequence[tuple[int, int, int]] = ()) -> list[_Unit]:
    """Sentences, with any sentence longer than ``max_tokens`` cut at token boundaries."""
    spans = sentence_spans(text, structure)
    toks = offsets([text[s:e] for s, e in spans])
    units: list[_Unit] = []
    for (s, e), tok in zip(spans, toks):
        if len(tok) <= max_tokens:
            units.append(_Unit(s, e, max(1, len(tok))))
            continue
        cuts = [s] + [s + c for c in _long_cuts(text[s:e], tok, max_tokens)] + [e]
        for a, b in zip(cuts, cuts[1:]):
            units.append(_Unit(a, b, max_tokens))
    return _char_capped(text, units, max_tokens * MAX_CHARS_PER_TOKEN, max_tokens)


#: A chunk holds at most this many characters per token of its budget. The tokenizer maps a
#: word it cannot split (a 5 MB line without spaces, base64) to one unknown token, so the
#: token budget alone would let such a "sentence" become a 5 MB chunk and a 5 MB answer.
MAX_CHARS_PER_TOKEN = 12


def _char_capped(text: str, units: list[_Unit], max_chars: int, max_tokens: int
                 ) -> list[_Unit]:
    """Units longer than ``max_chars`` characters cut into pieces of at most that many (at a
    space when one is close); each piece fills a whole chunk."""
    out: list[_Unit] = []
    for u in units:
        a = u.start
        while u.end - a > max_chars:
            cut = a + _cut_at(text[a:a + max_chars], max_chars)
            cut = cut if cut > a else a + max_chars
            out.append(_Unit(a, cut, max_tokens))
            a = cut
        out.append(u if a == u.start else _Unit(a, u.end, max_tokens))
    return out


def _long_cuts(sentence: str, tok: list[tuple[int, int]], max_tokens: int) -> list[int]:
    """Cut points inside an over-long sentence so that each piece holds at most
    ``max_tokens`` tokens, each cut moved back to a word start when one is close."""
    cuts: list[int] = []
    first = 0  # index of the first token of the current piece
    while len(tok) - first > max_tokens:
        limit = first + max_tokens  # the first token that no longer fits
        cut = _cut_at(sentence, tok[limit][0])
        nxt = next(i for i in range(first, limit + 1) if tok[i][0] >= cut)
        if nxt <= first:  # one word longer than the whole piece: cut inside it
            cut, nxt = tok[limit][0], limit
        cuts.append(cut)
        first = nxt
    return cuts


def _cut_at(sentence: str, i: int) -> int:
    """Move a cut back to the nearest whitespace so a word is not split, when one is close."""
    j = i
    while j > 0 and not sentence[j - 1].isspace() and i - j < 40:
        j -= 1
    return j if j > 0 and sentence[j - 1].isspace() else i


def _windows(units: list[_Unit], max_tokens: int, overlap: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j].tokens <= max_tokens):
            total += units[j].tokens
            j += 1
        out.append((units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        # step back over whole sentences worth at most ``overlap`` tokens, always moving forward
        # and leaving room for the next unit (else the next window would add nothing new)
        k, back, room = j, 0, min(overlap, max_tokens - units[j].tokens)
        while k - 1 > i and back + units[k - 1].tokens <= room:
            back += units[k - 1].tokens
            k -= 1
        i = k
    return out


def index_text(chunk: Chunk) -> str:
    """The text a chunk is embedded and lexically indexed with: its heading path (the
    "contextual chunk header") above its own text. Citations and offsets use ``chunk.text``."""
    body = chunk.text.strip()
    return f"{chunk.context}\n{body}" if chunk.context else body
