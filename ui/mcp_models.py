"""The MCP tools' results (ui/mcp_tools.py): pydantic models whose JSON schemas are the
tools' outputSchema; split from mcp_tools.py as the HTTP API's are in api_models.py."""
# No ``from __future__ import annotations``: pydantic and the MCP SDK read these annotations
# as values (as in mcp_tools.py).
from typing import Literal

from pydantic import BaseModel, Field

from rag.types import Abstention


class Passage(BaseModel):
    id: str = Field(description="The passage's id, for fetch (chunk:<n>).")
    document_id: str = Field(description="The id of its document (list_documents, fetch).")
    path: str = Field(description="The document's file path.")
    name: str = Field(description="The document's file name.")
    page: int = Field(description="The page number, from 1 (1 for a file without pages).")
    page_label: str = Field(description="The printed page label when the PDF defines one.")
    start: int = Field(description="Where the passage starts in the page's text.")
    end: int = Field(description="Where it ends: text == page_text[start:end].")
    text: str
    score: float = Field(description="The retrieval score (higher is better).")


class SearchResult(BaseModel):
    passages: list[Passage] = Field(description="The best passages, best first.")


class AnswerSpanOut(BaseModel):
    text: str = Field(description="The exact answer: page_text[start:end] of that source.")
    source: int = Field(description="The source (n) it lies in.")
    start: int
    end: int


class SentenceOut(BaseModel):
    text: str
    citations: list[int] = Field(description="The sources (n) this sentence rests on.")
    supported: bool
    answer: AnswerSpanOut | None = Field(
        None, description="The exact answer in this sentence, when one was marked.")


class SourceOut(BaseModel):
    n: int = Field(description="The number the answer's [n] markers refer to.")
    document_id: str
    path: str
    name: str
    page: int
    page_label: str
    start: int = Field(description="The passage's start in the page's text.")
    end: int = Field(description="Its end: text == page_text[start:end].")
    text: str
    score: float
    highlights: list[tuple[int, int]] = Field(
        description="Page offsets of the spans cited sentences rest on.")


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(description="The answer, with [n] citation markers; or the sentence "
                                    "saying the documents do not answer it.")
    abstained: bool = Field(description="True when the documents do not answer the question.")
    abstention: Literal[tuple(a.value for a in Abstention)] | None = Field(  # type: ignore[valid-type]
        None, description="Why it abstained: no_evidence (no passage is close enough to the "
                          "question), engine_found_none (the engine drafted nothing), "
                          "does_not_fit (the draft does not answer it), not_in_passages (no "
                          "passage holds an answer); null when it answered.")
    notes: list[str] = Field(description="What was decided, in words (why it abstained).")
    sentences: list[SentenceOut]
    sources: list[SourceOut] = Field(
        description="The numbered passages (when it abstained: the closest ones).")
    engine: str
    confidence: float | None = None
    scope: list[str] = Field(default_factory=list,
                             description="The documents (paths) it was limited to.")


class DocumentInfo(BaseModel):
    id: str
    path: str
    name: str
    type: str = Field(description="The file suffix without its dot (pdf, docx, txt...).")
    pages: int
    chunks: int
    size: int = Field(description="Bytes.")
    indexed_at: str = Field(description="UTC, ISO 8601; empty when not indexed.")
    status: str = Field(description="indexed, skipped or excluded.")
    reason: str = Field(description="Why it is skipped or excluded.")


class Library(BaseModel):
    documents: list[DocumentInfo]


class PageText(BaseModel):
    page: int
    text: str


class Fetched(BaseModel):
    id: str = Field(description="The id asked for.")
    kind: Literal["document", "passage"]
    document_id: str
    path: str
    name: str
    text: str = Field(description="A document: its pages' text, separated by blank lines. "
                                  "A passage: its text.")
    pages: list[PageText] = Field(description="A document's pages, in order (empty for a "
                                              "passage).")
    page: int | None = Field(None, description="A passage's page.")
    page_label: str = ""
    start: int | None = Field(None, description="A passage's start in its page's text.")
    end: int | None = Field(None, description="Its end: text == page_text[start:end].")
