"""The data shapes that flow between stages. Frozen dataclasses, no loose dicts."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

#: The one sentence docchat answers with when the documents are silent.
CANNOT_ANSWER = "The documents do not contain an answer to this question."


@dataclass(frozen=True)
class Page:
    """The text of one page of a file. Non-paginated formats have a single page 1."""

    path: str
    page: int
    text: str
    label: str = ""  # the printed page label when the PDF defines one (e.g. "47698")
    #: Structural lines of this page as (start, end, level) offsets into ``text``: a title or
    #: heading (level 1-6; 0 for a document title) or another non-prose line (level 9: a
    #: table-of-contents entry, a lone page number, a table header). Loaders record them; a
    #: structural line is never merged into a sentence, never an answer sentence by itself and
    #: never a citation span, but its words give the chunks under it their context.
    structure: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage of a page: ``text == page_text[start:end]``."""

    page: int
    start: int
    end: int
    text: str
    label: str = ""
    #: The heading path above this chunk ("Title > Section"), embedded and BM25-indexed with
    #: the chunk ("contextual chunk header") but never part of ``text`` or a citation.
    context: str = ""
    #: Page offsets (start, end, level) of the structural lines that fall inside this chunk.
    structure: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its provenance and score."""

    chunk_id: int
    path: str
    page: int
    start: int
    end: int
    text: str
    score: float
    label: str = ""
    dense: float = 0.0  # cosine similarity to the query (0 when only BM25 found it)
    sparse: float = 0.0  # BM25 score (0 when only the dense search found it)
    context: str = ""  # the chunk's heading path (see Chunk.context)
    structure: tuple[tuple[int, int, int], ...] = ()  # page offsets of its structural lines


@dataclass(frozen=True)
class Source:
    """A numbered passage an answer may cite. ``start``/``end`` are page offsets of the passage;
    ``highlights`` are page offsets of the spans that cited sentences rest on."""

    n: int
    path: str
    page: int
    start: int
    end: int
    text: str
    score: float
    label: str = ""
    highlights: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class AnswerSpan:
    """The exact answer inside a cited sentence, as the span reader found it: ``text`` is
    ``page_text[start:end]`` of source ``source`` (page offsets, like Source.highlights), and
    lies inside the cited sentence's highlight."""

    text: str
    source: int
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer and the sources that support it."""

    text: str
    citations: tuple[int, ...] = ()
    supported: bool = True
    answer: AnswerSpan | None = None  # the exact answer in it, when the reader marked one


@dataclass(frozen=True)
class Stage:
    """What answering a question is doing now ("Reading the 5 best passages…"); streamed by
    rag.answer.ask_stream between the draft's pieces, so a page can show the slow steps."""

    text: str


class TextEnum(str, Enum):
    """An enum whose members are their text: equal to it, and shown as it by str() and in
    f-strings on every Python version (3.12 changed what format() gives for str mixins)."""

    def __str__(self) -> str:
        return str(self.value)


class Abstention(TextEnum):
    """Why an answer abstained (``Answer.abstention``); ``Answer.notes`` says it in words, with
    the figure that decided. Evaluation and tests match on these, never on the note's text."""

    NO_EVIDENCE = "no_evidence"  # no retrieved sentence is close enough to the question
    ENGINE_FOUND_NONE = "engine_found_none"  # the engine drafted nothing, or said it cannot
    DOES_NOT_FIT = "does_not_fit"  # the answerability model: the draft does not answer it
    NOT_IN_PASSAGES = "not_in_passages"  # the span reader: no passage holds an answer


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    sentences: tuple[Sentence, ...] = ()
    sources: tuple[Source, ...] = ()
    engine: str = ""
    evidence: float = 0.0  # the evidence score the abstention rule looked at
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    abstention: Abstention | None = None  # why, when ``abstained``
    #: The answer checker's decision, p that the passages answer the question (with the
    #: checker off, the span reader's p that the best passage holds the answer; None: neither
    #: ran: they are off, or the question stopped before them).
    confidence: float | None = None
    #: The documents (paths) the question was limited to; () when it searched them all.
    scope: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scope"] = list(self.scope)
        d["abstention"] = self.abstention.value if self.abstention else None
        for s in d["sentences"]:
            s["citations"] = list(s["citations"])
        for s in d["sources"]:
            s["highlights"] = [list(h) for h in s["highlights"]]
        d["sentences"] = list(d["sentences"])
        d["sources"] = list(d["sources"])
        d["notes"] = list(d["notes"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Answer":
        """The inverse of ``to_dict`` (stored conversations, exports); keys added later
        default, so older records still load."""
        why = d.get("abstention")
        return cls(question=d["question"], answer=d["answer"], abstained=d["abstained"],
                   sentences=tuple(Sentence(s["text"], tuple(s["citations"]), s["supported"],
                                            AnswerSpan(**s["answer"]) if s.get("answer")
                                            else None)
                                   for s in d.get("sentences", ())),
                   sources=tuple(Source(**{**s, "highlights": tuple(tuple(h) for h in
                                                                    s["highlights"])})
                                 for s in d.get("sources", ())),
                   engine=d.get("engine", ""), evidence=d.get("evidence", 0.0),
                   seconds=d.get("seconds", 0.0), notes=tuple(d.get("notes", ())),
                   abstention=Abstention(why) if why else None,
                   confidence=d.get("confidence"), scope=tuple(d.get("scope", ())))


class DocumentStatus(TextEnum):
    """Where a document of the library stands (``Document.status``)."""

    INDEXED = "indexed"
    SKIPPED = "skipped"  # the last update could not read it (``Document.reason`` says why)
    EXCLUDED = "excluded"  # left out by the user


class Fusion(TextEnum):
    """How dense and BM25 scores are combined (rag.retrieval.search)."""

    CONVEX = "convex"  # dense_weight x dense + (1 - dense_weight) x BM25, both normalised
    RRF = "rrf"  # reciprocal-rank fusion (rrf_k)


@dataclass(frozen=True)
class Document:
    """One document of the library: an indexed file, or a file the last update skipped."""

    id: str  # stable for a path (see document_id)
    path: str
    name: str
    type: str  # the suffix without its dot ("pdf"), "" when there is none
    pages: int = 0
    chunks: int = 0
    size: int = 0  # bytes
    indexed_at: str = ""  # UTC, ISO 8601; "" for a skipped file
    status: DocumentStatus = DocumentStatus.INDEXED
    reason: str = ""  # why it was skipped or excluded

    def to_dict(self) -> dict:
        return {**asdict(self), "status": DocumentStatus(self.status).value}


def document_id(path: str) -> str:
    """A short stable id for a document path (what the HTTP API's URLs carry)."""
    import hashlib

    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Conversation:
    """A stored conversation: its title is the first question unless renamed."""

    id: str
    title: str
    created: str  # UTC, ISO 8601
    updated: str
    turns: int = 0


#: Why an answer was rated down (Feedback.reason).
FEEDBACK_REASONS = ("wrong_source", "should_abstain", "missed_answer", "other")
FEEDBACK_NOTE_CHARS = 2000


@dataclass(frozen=True)
class Feedback:
    """A user's rating of one answer: "up" or "down"; a "down" may say why (one of
    FEEDBACK_REASONS) and add a note."""

    rating: str
    reason: str | None = None
    note: str = ""
    updated: str = ""  # UTC, ISO 8601

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Turn:
    """One question of a stored conversation and the answer it got, sources included, and
    the user's rating of that answer, if any."""

    question: str
    answer: Answer
    feedback: Feedback | None = None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class UpdateSummary:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    chunks: int = 0
    embedded: int = 0  # chunks embedded by this run (0 when nothing changed)
    full_rebuild: bool = False
    reason: str = ""  # why a full rebuild happened, if it did
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("added", "updated", "removed", "unchanged"):
            d[k] = list(d[k])
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d


@dataclass(frozen=True)
class Status:
    exists: bool
    files: int = 0
    chunks: int = 0
    model: str = ""
    dim: int = 0
    built_at: str = ""
    roots: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["roots"] = list(self.roots)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d
