"""The JSON API's request and response models: what the OpenAPI schema shows at /docs."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag import ENGINES
from rag.types import FEEDBACK_NOTE_CHARS, FEEDBACK_REASONS

MAX_HISTORY = 20
MAX_TURN_CHARS = 20_000  # one question or answer of the history
MAX_SCOPE = 1000  # documents named in one scope

#: A question must hold a character that is not white space as Python's str.split() sees it
#: (which also splits on the ASCII separators \x1c-\x1f and on U+0085): regex search
#: semantics. The set is spelled out because \s differs between engines (ECMA-262's, what a
#: JavaScript client reads the schema with, lacks U+0085 and has U+FEFF): so it means the same
#: in JSON Schema, in pydantic and to the service.
NOT_BLANK = (r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
             r"\u3000]")
#: A conversation id: what the server makes (hex), at most 64 characters.
CONVERSATION_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _utf8(text: str) -> str:
    """A lone surrogate ("\\ud800" in the JSON) is not text: refused with a reason (it
    cannot be embedded, stored or sent back)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds an unpaired surrogate (\\ud800-\\udfff): not valid "
                         "Unicode text") from None
    return text


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
    conversation_id: Optional[str] = Field(
        None, pattern=CONVERSATION_ID,
        description="A stored conversation (POST /api/conversations, or one of the page's): "
                    "its turns are the history, and this question and its answer are added "
                    "to it. Not together with a non-empty history (422); another user's or "
                    "an unknown one is a 404.")
    # the schema says it too: a conversation_id and a non-empty history are not sent together
    model_config = ConfigDict(json_schema_extra={"not": {
        "required": ["conversation_id", "history"],
        "properties": {"conversation_id": {"type": "string"}, "history": {"minItems": 1}}}})

    @model_validator(mode="after")
    def one_history(self):
        if self.conversation_id is not None and self.history:
            raise ValueError("send either conversation_id (its stored turns are the history) "
                             "or history, not both")
        return self

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
    confidence: Optional[float] = Field(None, description="The answer checker's decision: "
                                        "p that the passages answer the question (with the "
                                        "checker off, the span reader's p that the best "
                                        "passage holds the answer; null: neither ran).")
    scope: list[str] = Field(default_factory=list, description="The documents (paths) the "
                             "question was limited to; empty: all of them.")


class AskOut(AnswerOut):
    conversation_id: Optional[str] = Field(None, description="The conversation the turn was "
                                           "added to (null: none was named).")
    turn: Optional[int] = Field(None, description="Its number in that conversation (1: the "
                                "first question), for POST .../turns/{n}/feedback.")


class ConversationIn(BaseModel):
    title: str = Field("", max_length=200, description="Empty: the first question names it.")

    @field_validator("title")
    @classmethod
    def valid_unicode(cls, value: str) -> str:
        return _utf8(value)


class ConversationOut(BaseModel):
    id: str
    title: str
    created: str = Field(description="UTC, ISO 8601.")
    updated: str = Field(description="When a question was last added (UTC, ISO 8601).")
    turns: int = Field(description="Questions asked in it.")


class FeedbackIn(BaseModel):
    rating: Literal["up", "down"]
    reason: Optional[Literal[FEEDBACK_REASONS]] = Field(
        None, description="Only with \"down\": wrong_source (it cites the wrong passage), "
                          "should_abstain (the documents do not answer it), missed_answer (they "
                          "do, and it did not find it), other.")
    note: str = Field("", max_length=FEEDBACK_NOTE_CHARS, description="Free text.")
    # the schema says it too: no reason with "up"
    model_config = ConfigDict(json_schema_extra={"not": {
        "required": ["rating", "reason"],
        "properties": {"rating": {"const": "up"}, "reason": {"type": "string"}}}})

    @field_validator("note")
    @classmethod
    def valid_unicode(cls, value: str) -> str:
        return _utf8(value)

    @model_validator(mode="after")
    def reason_goes_with_down(self):
        if self.reason is not None and self.rating != "down":
            raise ValueError("a reason goes with the rating \"down\" only")
        return self


class FeedbackOut(BaseModel):
    rating: Literal["up", "down"]
    reason: Optional[Literal[FEEDBACK_REASONS]] = None
    note: str = ""
    updated: str = Field(description="When it was given (UTC, ISO 8601).")


class RatedOut(BaseModel):
    conversation_id: str
    turn: int
    feedback: FeedbackOut


class UnratedOut(BaseModel):
    conversation_id: str
    turn: int
    feedback: None = Field(None, description="Always null: the turn has no rating now.")


class TurnOut(BaseModel):
    n: int = Field(description="1: the first question.")
    question: str
    answer: AnswerOut
    feedback: Optional[FeedbackOut] = Field(None, description="The user's rating, if any.")


class ConversationTurnsOut(BaseModel):
    id: str
    title: str
    created: str
    updated: str
    turns: list[TurnOut]


class ConversationDeletedOut(BaseModel):
    deleted: ConversationOut


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
    ready: bool = Field(description="The models a question needs are loaded (loaded in the "
                        "background at start; a question asked before waits for them).")


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
