"""Cited extractive summaries of whole documents (issue 22): the sentences that are most
central to a document and that cover its sections, in document order, each cited with the
passage and page it comes from, verbatim.

How sentences are chosen, and why:
- **Coverage first.** The document is cut into groups: its top-level sections when its
  headings make at least two (the heading level that occurs most often among the highest
  ones), else equal runs of its sentences; with several documents, each document is a group.
  A summary of ``n`` sentences takes from each group in proportion to its length (at least
  one), so a long report is not summarised by its introduction. A document with more
  top-level sections than ``n`` gets one sentence per section (up to MAX_SENTENCES).
- **Centrality within a group.** A sentence's score is its cosine to the document's centroid
  (the mean of its chunk vectors: what the document is about) and to its group's centroid
  (what this section is about), plus a small bonus for opening its section (lead sentences
  carry news and abstracts).
- **No near-duplicates, no headings.** Structural lines (titles, headings, table-of-contents
  lines) are never chosen; a sentence closer than REDUNDANT to one already chosen is skipped.
- **Verbatim and cited.** Each sentence is a span of a page's text; it cites the stored
  passage (chunk) that contains it, with the span as its highlight, so the page and the
  panel show exactly where it is.

For long documents only the sentences of each group's most central passages are embedded
(CANDIDATE_CHUNKS per group), so a 117-page PDF costs a few hundred sentence vectors.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.citations import render_markers
from rag.errors import DocchatError
from rag.sentences import sentence_spans
from rag.types import Answer, Sentence, Source

DEFAULT_SENTENCES = 8
MAX_SENTENCES = 20
MIN_WORDS = 6  # shorter "sentences" are captions, list fragments, page furniture
MAX_CHARS = 600  # longer spans are tables or run-on extraction, not summary sentences
REDUNDANT = 0.85  # cosine above which a sentence repeats one already chosen
LEAD_BONUS = 0.05  # per place: the first sentence of a section gets 2x, the second 1x
CANDIDATE_CHUNKS = 6  # per group, for long documents
LONG = 400  # sentences: above this, only the most central passages' sentences are embedded

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class _Sent:
    doc: int
    page: int
    start: int
    end: int
    text: str
    chunk: int  # index into the document's chunks
    group: int = 0
    lead: int = 99  # its place among its section's sentences (0: the first)


def summarise(index, documents: Sequence[str], sentences: int | None = None,
              on_progress: Progress | None = None) -> Answer:
    """A cited summary of the documents ``documents`` names (ids or paths, as a question's
    scope), ``sentences`` long (default 8; one per top-level section for a long document)."""
    t0 = time.perf_counter()
    report = on_progress or (lambda f, m: None)
    if sentences is not None and not 1 <= sentences <= MAX_SENTENCES:
        raise DocchatError(f"a summary has 1 to {MAX_SENTENCES} sentences, not {sentences}")
    scope = index.scope(documents)
    snap = index.snapshot()
    files = snap.bookkeeping().files
    report(0.05, f"reading {len(scope.paths)} document{'s' * (len(scope.paths) != 1)}")
    docs = []
    for path in scope.paths:
        content = snap.content(files[path])
        docs.append((path, content))
    sents, chunk_vecs = [], []
    for d, (path, content) in enumerate(docs):
        sents += _sentences(d, content)
        chunk_vecs.append(np.asarray(content.vectors, np.float32))
    if not sents:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in scope.paths)
        raise DocchatError(f"{names}: no text to summarise (an empty or image-only document)")
    sents, n_groups, want = _group(sents, docs, sentences)
    report(0.2, f"choosing {want} sentences from {len(sents):,}")
    centroid = _unit(np.concatenate(chunk_vecs).mean(axis=0))
    candidates = _candidates(sents, chunk_vecs, centroid, n_groups)
    vecs = index.embedder().encode(
        [s.text for s in candidates],
        on_batch=lambda done, total: report(0.2 + 0.6 * done / max(total, 1),
                                            f"reading candidate sentences: {done:,} of "
                                            f"{total:,}"))
    report(0.8, "citing each sentence")
    chosen = _choose(candidates, vecs, centroid, n_groups, want)
    chosen.sort(key=lambda s: (s.doc, s.page, s.start))
    return _answer(scope.paths, docs, chosen, t0)


def _sentences(d: int, content) -> list[_Sent]:
    """The prose sentences of one stored content, each inside one of its chunks."""
    out = []
    chunks = content.chunks
    by_page: dict[int, list[int]] = {}
    for i, c in enumerate(chunks):
        by_page.setdefault(c.page, []).append(i)
    for page in content.pages:
        text, structure = page.text, page.structure
        lines = [(a, b) for a, b, *_ in structure]
        for a, b in sentence_spans(text, structure):
            s, e = _strip(text, a, b)
            body = text[s:e]
            if e - s > MAX_CHARS or len(body.split()) < MIN_WORDS or not _prose(body) or \
                    any(la <= s and e <= lb for la, lb in lines):
                continue
            home = [i for i in by_page.get(page.page, ())
                    if chunks[i].start <= s and e <= chunks[i].end]
            if home:  # the smallest passage holding it (chunks overlap)
                i = min(home, key=lambda i: chunks[i].end - chunks[i].start)
                out.append(_Sent(d, page.page, s, e, body, i))
    return out


def _prose(text: str) -> bool:
    """A sentence, not a heading, a letterhead or a table row: it ends like a sentence and
    is not mostly capitals."""
    letters = [c for c in text if c.isalpha()]
    return (text.rstrip()[-1:] in ".!?…:;\"'”’)" and not text.lstrip().startswith("#")
            and bool(letters) and sum(c.isupper() for c in letters) < 0.3 * len(letters))


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _group(sents: list[_Sent], docs, sentences: int | None) -> tuple[list[_Sent], int, int]:
    """Assign each sentence its group (document, then top-level section or equal run) and
    decide how many sentences the summary takes."""
    groups: list[int] = []
    out = []
    base = 0
    for d, (_, content) in enumerate(docs):
        mine = [s for s in sents if s.doc == d]
        starts = _section_starts(content)
        if len(starts) >= 2:
            keyed = [(sum(1 for st in starts if st <= (s.page, s.start)) - 1) for s in mine]
            keyed = [max(k, 0) for k in keyed]
            n = len(starts)
        else:  # no usable headings: equal runs of sentences
            n = max(1, min(sentences or DEFAULT_SENTENCES, len(mine)))
            keyed = [i * n // max(len(mine), 1) for i in range(len(mine))]
        seen_lead: dict[int, int] = {}
        for s, k in zip(mine, keyed):
            lead = seen_lead.get(k, 0)
            seen_lead[k] = lead + 1
            out.append(_Sent(**{**s.__dict__, "group": base + k, "lead": lead}))
        groups += [base + k for k in range(n)]
        base += n
    used = sorted({s.group for s in out})
    remap = {g: i for i, g in enumerate(used)}
    out = [_Sent(**{**s.__dict__, "group": remap[s.group]}) for s in out]
    n_groups = len(used)
    want = sentences or max(DEFAULT_SENTENCES, min(n_groups, MAX_SENTENCES))
    return out, n_groups, min(want, len(out))


def _section_starts(content) -> list[tuple[int, int]]:
    """(page, offset) where each top-level section starts: lines of the highest heading level
    that occurs at least twice (a title, level 0, is not a section)."""
    heads = [(p.page, a, level) for p in content.pages for a, _, level in p.structure
             if 1 <= level <= 6]
    for level in sorted({lv for *_, lv in heads}):
        starts = [(pg, a) for pg, a, lv in heads if lv == level]
        if len(starts) >= 2:
            return sorted(starts)
    return []


def _candidates(sents: list[_Sent], chunk_vecs, centroid: np.ndarray,
                n_groups: int) -> list[_Sent]:
    if len(sents) <= LONG:
        return sents
    keep = []
    for g in range(n_groups):
        mine = [s for s in sents if s.group == g]
        chunks = sorted({(s.doc, s.chunk) for s in mine},
                        key=lambda dc: -float(chunk_vecs[dc[0]][dc[1]] @ centroid))
        best = set(chunks[:CANDIDATE_CHUNKS])
        keep += [s for s in mine if (s.doc, s.chunk) in best or s.lead < 2]
    return keep


def _choose(cands: list[_Sent], vecs: np.ndarray, centroid: np.ndarray, n_groups: int,
            want: int) -> list[_Sent]:
    vecs = np.asarray(vecs, np.float32)
    sizes = np.bincount([s.group for s in cands], minlength=n_groups).astype(float)
    quota = _quota(sizes, want)
    chosen: list[int] = []
    for g in range(n_groups):
        idx = [i for i, s in enumerate(cands) if s.group == g]
        if not idx or not quota[g]:
            continue
        gc = _unit(vecs[idx].mean(axis=0))
        score = {i: 0.6 * float(vecs[i] @ centroid) + 0.4 * float(vecs[i] @ gc)
                 + LEAD_BONUS * max(0, 2 - cands[i].lead) for i in idx}
        taken = 0
        for i in sorted(idx, key=lambda i: -score[i]):
            if taken == quota[g]:
                break
            if chosen and float(np.max(vecs[chosen] @ vecs[i])) > REDUNDANT:
                continue
            chosen.append(i)
            taken += 1
    return [cands[i] for i in chosen]


def _quota(sizes: np.ndarray, want: int) -> list[int]:
    """Sentences per group: at least one per non-empty group while ``want`` allows (the
    largest groups first), the rest in proportion to the groups' sizes."""
    groups = [g for g in np.argsort(-sizes, kind="stable") if sizes[g] > 0]
    quota = [0] * len(sizes)
    for g in groups[:want]:
        quota[g] = 1
    left = want - sum(quota)
    if left > 0:
        share = sizes / sizes.sum() * left
        for g in np.argsort(-(share - np.floor(share)), kind="stable"):
            quota[g] += int(np.floor(share[g]))
        left = want - sum(quota)
        for g in groups:
            if left <= 0:
                break
            quota[g] += 1
            left -= 1
    return quota


def _answer(paths: Sequence[str], docs, chosen: list[_Sent], t0: float) -> Answer:
    numbers: dict[tuple[int, int], int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    sentences = []
    for s in chosen:
        key = (s.doc, s.chunk)
        n = numbers.setdefault(key, len(numbers) + 1)
        spans.setdefault(n, []).append((s.start, s.end))
        sentences.append(Sentence(s.text, (n,)))
    sources = []
    for (d, i), n in numbers.items():
        path, content = docs[d]
        c = content.chunks[i]
        sources.append(Source(n=n, path=path, page=c.page, start=c.start, end=c.end,
                              text=c.text, score=1.0, label=c.label,
                              highlights=tuple(spans[n])))
    names = ", ".join(p.rsplit("/", 1)[-1] for p in paths)
    return Answer(question=f"Summary of {names}", answer=render_markers(sentences),
                  abstained=False, sentences=tuple(sentences), sources=tuple(sources),
                  engine="extractive-summary", seconds=round(time.perf_counter() - t0, 4),
                  scope=tuple(paths))


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)
