"""docchat as an MCP server (Model Context Protocol): agents and editors search the library,
ask questions answered with verified citations, summarise documents, list them and read
them, through five read-only tools built on the official ``mcp`` SDK (its high-level ``MCPServer``).

- ``search(query, k, documents)``: the best passages, each with its offsets in its page text;
- ``ask(question, documents)``: the verified answer (sentences, citations, sources), or why
  it abstained;
- ``list_documents()``: the library (indexed, skipped and excluded files);
- ``summarise(documents, sentences)``: a cited extractive summary of whole documents;
- ``fetch(id)``: a document's text page by page (a document id), or one passage
  (``chunk:<n>``, the id a search result carries).

Every tool only reads the index: nothing is written, and nothing outside the index (no other
file, no URL) can be named. A docchat error (an unknown document, an empty scope, a question
that is too long...) is a tool error whose text is that one-line message.

``docchat mcp`` serves it over stdio (rag/cli/serve.py); ``docchat serve`` over streamable HTTP
under /mcp (ui/server.py). Both use ``build_server``.
"""
# No ``from __future__ import annotations`` here: the tools' annotations name this server's
# limits (settings), which the SDK must see as values, not as strings to evaluate later.
import contextlib
import functools
import re
from typing import TYPE_CHECKING, Annotated, Any, Callable

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from rag.errors import DocchatError, NotFoundError
from rag.settings import Settings
from rag.types import DocumentStatus, document_id
from ui.api_models import NOT_BLANK
from ui.mcp_models import (AnswerOut, DocumentInfo, Fetched, Library, PageText, Passage,
                           SearchResult, SentenceOut, SourceOut)

if TYPE_CHECKING:
    from rag.index import Index

MAX_K = 50  # passages a search returns at most (as the HTTP API's k)
MAX_SCOPE = 1000  # items of a documents= list
CHUNK_ID = re.compile(r"chunk:(\d{1,18})")
INSTRUCTIONS = (
    "docchat answers questions from the user's own documents. Use `ask` for a question: it "
    "returns an answer whose every sentence cites numbered sources, or abstains when the "
    "documents do not say. Use `search` to find passages, `list_documents` to see the "
    "library, and `fetch` to read a document (its id) or a passage (the chunk id a search "
    "returns). `documents` limits search and ask to some documents (ids or paths).")

#: Every tool only reads the index (no change, same answer again, nothing outside it).
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False,
                            idempotent_hint=True, open_world_hint=False)

ScopeArg = Annotated[list[str] | None, Field(
    max_length=MAX_SCOPE,
    description="Limit to these documents: document ids (from list_documents) or paths of "
                "indexed files or folders. Leave out to use every document.")]


# ---- the server ----

#: Gives the index and the admission's turn (a context manager a question is computed in).
Getter = Callable[[], tuple["Index", Any]]


def _index_getter(source: Any) -> Getter:
    """``source``: an Index, a ui.service.Service, or a function returning one of them
    (called for each request, so a renewed index is picked up). Gives the index, and the
    service's admission (its bound on questions computed at once) or a no-op."""
    def get() -> tuple["Index", Any]:
        found = source() if callable(source) and not hasattr(source, "snapshot") else source
        admission = getattr(found, "admission", None)
        return getattr(found, "index", found), (admission.turn if admission is not None
                                                else contextlib.nullcontext)
    return get


def _tool_errors(fn):
    """A DocchatError becomes a tool error whose text is its one-line message (the SDK would
    prefix it, or hide it as a crash)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DocchatError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            return CallToolResult(content=[TextContent(type="text", text=message)],
                                  is_error=True)
    return run


def build_server(index_or_service_getter: Any, settings: Settings) -> MCPServer:
    """The MCP server over the index ``index_or_service_getter`` gives (see _index_getter):
    the tools below, registered in this order (the order tools/list gives)."""
    get_index = _index_getter(index_or_service_getter)
    server = MCPServer("docchat", title="docchat", version="0.1.0",
                       instructions=INSTRUCTIONS, log_level="WARNING")
    tool = functools.partial(server.tool, annotations=READ_ONLY, structured_output=True)
    for add in (_add_search, _add_ask, _add_summarise, _add_list_documents, _add_fetch):
        add(tool, get_index, settings)
    return server


# ---- the tools: each registers one with ``tool`` (server.tool with the shared options). The
# tool's name is its function's, its description the docstring, its schemas the signature.


def _add_search(tool: Callable, get_index: Getter, settings: Settings) -> None:
    @tool(title="Search the documents")
    @_tool_errors
    def search(query: Annotated[str, Field(min_length=1, max_length=settings.max_question_chars,
                                           pattern=NOT_BLANK,  # as POST /api/search
                                           description="What to look for, in plain words.")],
               k: Annotated[int, Field(ge=1, le=MAX_K,
                                       description="How many passages to return.")] = 5,
               documents: ScopeArg = None) -> SearchResult:
        """The passages of the library that best match the query (hybrid: meaning and
        words), best first, each with its document, page and offsets in the page text."""
        index, turn = get_index()
        with turn():  # served: a question's slot (a BusyError when too many wait)
            hits = index.search(query, k, documents=documents)
        return SearchResult(passages=[Passage(
            id=f"chunk:{h.chunk_id}", document_id=document_id(h.path), path=h.path,
            name=_name(h.path), page=h.page, page_label=h.label, start=h.start, end=h.end,
            text=h.text, score=h.score) for h in hits])


def _add_ask(tool: Callable, get_index: Getter, settings: Settings) -> None:
    @tool(title="Ask the documents")
    @_tool_errors
    def ask(question: Annotated[str, Field(
                min_length=1, max_length=settings.max_question_chars,
                description="The question, in plain text.")],
            documents: ScopeArg = None) -> AnswerOut:
        """Answer a question from the documents. Every sentence of the answer cites the
        numbered sources it rests on ([n]), each checked against the source's text; when the
        documents do not answer it, the answer abstains and says why."""
        from rag.answer import ask as answer_question

        index, turn = get_index()
        with turn():
            return _answer_out(answer_question(index, question, documents=documents))


def _add_summarise(tool: Callable, get_index: Getter, settings: Settings) -> None:
    @tool(title="Summarise documents")
    @_tool_errors
    def summarise(documents: Annotated[list[str], Field(
                      min_length=1, max_length=MAX_SCOPE,
                      description="The documents to summarise: ids (from list_documents) or "
                                  "paths of indexed files or folders.")],
                  sentences: Annotated[int | None, Field(
                      ge=1, le=20, description="How many sentences (default 8, or one per "
                                               "top-level section of a long document).")] = None
                  ) -> AnswerOut:
        """A cited extractive summary: the document's most central sentences, covering its
        sections, in document order; each sentence is verbatim in the source it cites."""
        from rag import summarise as summary_of

        index, turn = get_index()
        with turn():
            return _answer_out(summary_of(index, documents, sentences))


def _answer_out(answer) -> AnswerOut:
    d = answer.to_dict()
    return AnswerOut(
        question=d["question"], answer=d["answer"], abstained=d["abstained"],
        abstention=d["abstention"], notes=d["notes"], engine=d["engine"],
        confidence=d["confidence"], scope=d["scope"],
        sentences=[SentenceOut(**s) for s in d["sentences"]],
        sources=[SourceOut(n=s["n"], document_id=document_id(s["path"]), path=s["path"],
                           name=_name(s["path"]), page=s["page"], page_label=s["label"],
                           start=s["start"], end=s["end"], text=s["text"],
                           score=s["score"],
                           highlights=[tuple(h) for h in s["highlights"]])
                 for s in d["sources"]])


def _add_list_documents(tool: Callable, get_index: Getter, settings: Settings) -> None:
    @tool(title="List the documents")
    @_tool_errors
    def list_documents() -> Library:
        """Every document of the library: indexed ones (with their pages and passages), and
        the files left out (skipped, with the reason, or excluded by the user)."""
        return Library(documents=[DocumentInfo(**{k: v for k, v in d.to_dict().items()
                                                  if k in DocumentInfo.model_fields})
                                  for d in get_index()[0].documents()])


def _add_fetch(tool: Callable, get_index: Getter, settings: Settings) -> None:
    @tool(title="Read a document or passage")
    @_tool_errors
    def fetch(id: Annotated[str, Field(
            min_length=1, max_length=200,
            description="A document id (from list_documents or a search result's "
                        "document_id), or a passage id chunk:<n> (a search result's id).")]
              ) -> Fetched:
        """The full text of an indexed document, page by page; or one passage."""
        return _fetch(get_index()[0], id.strip())


def _fetch(index: "Index", key: str) -> Fetched:
    passage = CHUNK_ID.fullmatch(key)
    if passage:
        found = index.snapshot().chunks([int(passage.group(1))])
        if not found:
            raise NotFoundError(f"no passage with id {key!r} in the index (passage ids "
                                "come from search results)")
        c = found[0]
        return Fetched(id=key, kind="passage", document_id=document_id(c.path),
                       path=c.path, name=_name(c.path), text=c.text, pages=[],
                       page=c.page, page_label=c.label, start=c.start, end=c.end)
    doc = next((d for d in index.documents() if d.id == key), None)
    if doc is None:
        raise NotFoundError(f"no document with id {key!r} (ids come from list_documents, "
                            "or chunk:<n> for a passage)")
    if doc.status != DocumentStatus.INDEXED:
        raise NotFoundError(f"{doc.name} is not indexed ({doc.status}: {doc.reason})")
    pages = [PageText(page=n, text=index.page_text(doc.path, n))
             for n in range(1, doc.pages + 1)]
    return Fetched(id=key, kind="document", document_id=doc.id, path=doc.path,
                   name=doc.name, text="\n\n".join(p.text for p in pages), pages=pages)


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]
