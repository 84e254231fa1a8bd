"""The JSON API's request and response models: what the OpenAPI schema shows at /docs."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, Field, field_validator

from rag.engines import ENGINES

MAX_HISTORY = 20
MAX_TURN_CHARS = 20_000  # one question or answer of the history
MAX_SCOPE = 1000  # documents named in one scope

#: A question must hold a character that is not white space (as Python's str.split() sees it,
#: which also splits on the ASCII separators \x1c-\x1f): regex search semantics, the same in
#: JSON Schema and in pydantic.
NOT_BLANK = r"[^\s\x1c-\x1f]"


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, pattern=NOT_BLANK,
                          description="The question, in plain text (not blank).")
    history: list[tuple[Annotated[str, Field(max_length=MAX_TURN_CHARS)],
                        Annotated[str, Field(max_length=MAX_TURN_CHARS)]]] = Field(
        default_factory=list, max_length=MAX_HISTORY,
        description="Earlier (question, answer) turns, oldest first, for follow-up questions.")
    engine: Literal[ENGINES] | None = Field(None, description="Answer engine; default from "
                                            "settings (extractive).")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve.")
    documents: Optional[list[Annotated[str, Field(min_length=1, max_length=4096)]]] = Field(
        None, min_length=1, max_length=MAX_SCOPE,
        description="Search only these documents: ids from GET /api/documents, or paths of "
                    "indexed files or folders (a folder: all its documents). Omit to search "
                    "them all; an unknown one is a 404.")

    @field_validator("question", "history")
    @classmethod
    def valid_unicode(cls, value):
        """A lone surrogate ("\\ud800" in the JSON) is not text: refused with a reason (it
        cannot be embedded, stored or sent back)."""
        texts = [value] if isinstance(value, str) else [t for turn in value for t in turn]
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("holds an unpaired surrogate (\\ud800-\\udfff): not valid "
                                 "Unicode text") from None
        return value


class SourceOut(BaseModel):
    n: int = Field(description="The number the answer's [n] markers refer to.")
    path: str
    page: int = Field(description="1-based page (1 for formats without pages).")
    start: int = Field(description="Offset of the passage in the page text.")
    end: int
    text: str = Field(description="The passage: page_text[start:end].")
    score: float = Field(description="Retrieval score, relative to the other passages.")
    label: str = Field("", description="The printed page label, when the PDF has one.")
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="Page offsets of the spans cited sentences rest on.")


class AnswerSpanOut(BaseModel):
    text: str = Field(description="The exact answer, verbatim.")
    source: int = Field(description="The source (n) it is in.")
    start: int = Field(description="Page offset of its first character (as highlights).")
    end: int = Field(description="Page offset just past its last character.")


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    supported: bool
    answer: Optional[AnswerSpanOut] = Field(
        None, description="The exact answer inside this sentence, when the reader marked one.")


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(description="The answer with [n] markers, or the abstention sentence.")
    abstained: bool
    sentences: list[SentenceOut]
    sources: list[SourceOut]
    engine: str
    evidence: float
    seconds: float
    notes: list[str]
    abstention: Optional[str] = Field(None, description="Why it abstained: no_evidence, "
                                      "engine_found_none, does_not_fit or not_in_passages.")
    confidence: Optional[float] = Field(None, description="The span reader's probability that "
                                        "the best passage holds the answer (null: not run).")
    scope: list[str] = Field(default_factory=list, description="The documents (paths) the "
                             "question was limited to; empty: all of them.")


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=2000, pattern=NOT_BLANK)
    k: int = Field(5, ge=1, le=50, description="Passages to return.")
    documents: Optional[list[Annotated[str, Field(min_length=1, max_length=4096)]]] = Field(
        None, min_length=1, max_length=MAX_SCOPE, description="As in POST /api/ask.")


class PassageOut(BaseModel):
    document: str = Field(description="The document's id (GET /api/documents).")
    path: str
    page: int
    label: str = Field("", description="The printed page label, when the PDF has one.")
    start: int = Field(description="Offset of the passage in the page text.")
    end: int
    text: str = Field(description="The passage: page_text[start:end].")
    score: float = Field(description="Fused retrieval score (relative to the other passages).")


class SkippedOut(BaseModel):
    path: str
    reason: str


class StatusOut(BaseModel):
    exists: bool
    files: int
    chunks: int
    model: str
    dim: int
    built_at: str
    roots: list[str]
    skipped: list[SkippedOut]
    documents: str = Field(description="The folder uploads are saved in.")
    engine: str


class SummaryOut(BaseModel):
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    skipped: list[SkippedOut]
    chunks: int
    embedded: int
    full_rebuild: bool
    reason: str
    seconds: float


class DocumentOut(BaseModel):
    id: str
    path: str
    name: str
    type: str
    pages: int
    chunks: int
    size: int = Field(description="Bytes.")
    indexed_at: str = Field(description="UTC, ISO 8601; empty for a skipped file.")
    status: Literal["indexed", "skipped", "excluded"] = Field(
        description="excluded: a file of your own folder that you removed from the index "
                    "(POST /api/documents/{id}/include takes it back).")
    reason: str = Field(description="Why the file was skipped or excluded.")


class UploadOut(BaseModel):
    saved: list[str]
    not_indexed: list[SkippedOut] = Field(description="Uploaded files the index skipped.")
    summary: SummaryOut
    status: StatusOut


class DeleteOut(BaseModel):
    deleted: DocumentOut
    action: Literal["deleted", "excluded"] = Field(
        description="deleted: the uploaded file was removed from the documents folder; "
                    "excluded: the file stays in its folder and is left out of the index.")
    summary: SummaryOut


class ReindexOut(BaseModel):
    document: DocumentOut | None = Field(
        description="The document as the library lists it now; null when the file is gone.")
    reembedded: bool = Field(
        description="True when its content had changed and was embedded again; an unchanged "
                    "content keeps its vectors (the same text gives the same vectors).")
    summary: SummaryOut


class IncludeOut(BaseModel):
    document: DocumentOut | None = Field(
        description="The document as the library lists it now (indexed, or skipped with its "
                    "reason); null when the file is no longer on disk.")
    summary: SummaryOut


class ErrorOut(BaseModel):
    detail: str
