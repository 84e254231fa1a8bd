"""The JSON API served beside the page: /api/ask, /api/documents (list, upload, delete, the
original file), /api/status, /api/conversations (the caller's: list, start, read, delete,
export, feedback on an answer); and the interactive docs at /docs, served from local files.

Errors are 4xx with {"detail": "<one line for the user>"}: a refused upload 400/413/415, an
unknown document (or conversation: another user's too) 404, no index yet (or one of another
embedding model) 409, an answer engine or embedding server that cannot be reached 424, no
login 401 (only when a login is set); a
request the schema refuses (an empty, blank or too long question, an unknown engine...) gets
FastAPI's 422 with the list of what is wrong. The schema declares each of these on the
operations that return it (tests/ui/test_schema_fuzz.py holds the server to it with
schemathesis). Nothing a client sends can produce a 500.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi import Path as FPath
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field, create_model

from rag.errors import (DocchatError, EmbeddingError, EngineError, IndexCorruptError,
                        IndexMismatchError, IndexNotFoundError, NotFoundError, QuestionError,
                        StorageError, UploadError, storage_error)
from rag.types import document_id
from ui.api_models import (NOT_BLANK, AskRequest, DeleteOut, DocumentOut, ErrorOut,
                           IncludeOut, PassageOut, ReindexOut, SearchRequest, StatusOut,
                           UploadOut)
from ui.api_models import AnswerOut
from rag.conversations import conversation_dict, export_json, export_markdown, export_name
from ui.api_models import (CONVERSATION_ID, MAX_HISTORY, AskOut, ConversationDeletedOut,
                           ConversationIn, ConversationOut, ConversationTurnsOut, FeedbackIn,
                           RatedOut, UnratedOut)
from ui.api_auth import basic_auth, caller
from ui.preview import page_png
from ui.admission import BusyError
from ui.service import Service

MAX_PAGE = 1_000_000  # pages of a PDF (the page-image route): larger numbers are a 422
MAX_OFFSET = 10**9  # characters of a page text
MAX_TURNS = 1_000_000  # turn numbers of a conversation (the feedback route): larger are a 422
ECHO_CHARS = 200  # a refused request's values are echoed up to this many characters
DOCS_ASSETS = "/api-docs-assets"  # Swagger UI's JS and CSS, from the fastapi-offline package
OPENAPI_URL = "/openapi.json"  # served by offline_docs (FastAPI's own route is off: no login)


def errors(*codes: int) -> dict:
    return {c: {"model": ErrorOut} for c in codes}


def status_for(exc: DocchatError) -> int:
    if isinstance(exc, BusyError):
        return 503
    if isinstance(exc, StorageError):
        return 507  # Insufficient Storage: the server's disk, not the request, is the cause
    if isinstance(exc, UploadError):
        return exc.status
    if isinstance(exc, QuestionError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (IndexNotFoundError, IndexCorruptError, IndexMismatchError)):
        return 409
    if isinstance(exc, (EngineError, EmbeddingError)):
        return 424  # a server the request depends on failed; the message says how
    return 400


def ask_model(max_chars: int) -> type[AskRequest]:
    """AskRequest with this server's question length limit (DOCCHAT_MAX_QUESTION_CHARS) in
    its schema, so that a question the schema allows is one the server answers."""
    return create_model("AskRequest", __base__=AskRequest, __module__=__name__, question=(
        str, Field(..., min_length=1, max_length=max_chars, pattern=NOT_BLANK,
                   description=f"The question, in plain text (not blank, at most "
                               f"{max_chars:,} characters).")))


#: Text formats are shown as plain text: an uploaded .html or .svg must never run as a page
#: of this origin (stored XSS). PDFs open in the browser's viewer; the rest download.
PLAIN_TEXT = frozenset({"txt", "md", "html", "htm", "csv", "xml", "svg", "json"})
NO_ACTIVE_CONTENT = {"x-content-type-options": "nosniff",
                     "content-security-policy": "sandbox; default-src 'none'; "
                                                "img-src 'self' data:; style-src 'unsafe-inline'"}


def original_response(doc) -> FileResponse:
    """The original file, served so that nothing in it can run in the app's origin."""
    if doc.type == "pdf":
        return FileResponse(doc.path, filename=doc.name, media_type="application/pdf",
                            content_disposition_type="inline",
                            headers={"x-content-type-options": "nosniff"})
    if doc.type in PLAIN_TEXT:
        return FileResponse(doc.path, filename=doc.name, media_type="text/plain; charset=utf-8",
                            content_disposition_type="inline", headers=NO_ACTIVE_CONTENT)
    return FileResponse(doc.path, filename=doc.name, media_type="application/octet-stream",
                        content_disposition_type="attachment", headers=NO_ACTIVE_CONTENT)


def status_dict(service: Service) -> dict:
    return {**service.status().to_dict(), "documents": str(service.docs),
            "engine": service.settings.engine}


def router(service: Service, credentials: tuple[str, str] | None = None,
           session_user: Callable[[Request], str | None] = lambda _: None) -> APIRouter:
    # no login: no security scheme at all (the schema shows HTTP Basic only when it is on)
    deps = [Depends(basic_auth(credentials, session_user))] if credentials else []
    api = APIRouter(prefix="/api", tags=["docchat"], dependencies=deps,
                    responses=errors(401) if credentials else {})

    ask_request = ask_model(service.settings.max_question_chars)
    who = caller(credentials, session_user)
    store = service.conversations

    def ask(req: AskRequest, user: str = Depends(who)) -> dict:
        if req.conversation_id is None:
            return service.answer(req.question, req.history, req.engine, req.k,
                                  req.documents).to_dict()
        # a stored conversation: its turns are the history, this turn is added to it
        turns = store.turns(user, req.conversation_id)  # 404 before any work
        history = [(t.answer.question, t.answer.answer) for t in turns[-MAX_HISTORY:]]
        answer = service.answer(req.question, history, req.engine, req.k, req.documents)
        conv = store.add(user, req.conversation_id, req.question, answer)
        return {**answer.to_dict(), "conversation_id": conv, "turn": store.count(user, conv)}

    ask.__annotations__["req"] = ask_request  # this server's question length limit
    api.post("/ask", summary="Answer a question with verified citations; with a "
             "conversation_id, as the next turn of that conversation",
             response_model=AskOut, responses=errors(400, 404, 409, 424, 503))(ask)

    conv_id_param = FPath(..., pattern=CONVERSATION_ID, description="A conversation's id.")

    @api.get("/conversations", summary="Your conversations, most recently used first",
             response_model=list[ConversationOut])
    def conversations(user: str = Depends(who)) -> list[dict]:
        return [asdict(c) for c in store.list(user)]

    @api.post("/conversations", summary="Start a conversation (ask in it with "
              "conversation_id)", response_model=ConversationOut, status_code=201,
              responses=errors(400))  # 400: a body that is not JSON
    def new_conversation(req: ConversationIn | None = None, user: str = Depends(who)) -> dict:
        return asdict(store.create(user, req.title if req else ""))

    @api.get("/conversations/{conv_id}", summary="A conversation: every turn with its whole "
             "answer and its feedback", response_model=ConversationTurnsOut,
             responses=errors(404))
    def conversation(conv_id: str = conv_id_param, user: str = Depends(who)) -> dict:
        return conversation_dict(store.get(user, conv_id), store.turns(user, conv_id))

    @api.delete("/conversations/{conv_id}", summary="Delete a conversation",
                response_model=ConversationDeletedOut, responses=errors(404))
    def delete_conversation(conv_id: str = conv_id_param, user: str = Depends(who)) -> dict:
        conv = store.get(user, conv_id)
        store.delete(user, conv_id)
        return {"deleted": asdict(conv)}

    @api.get("/conversations/{conv_id}/export", summary="A conversation as a file to "
             "download: Markdown to read, or JSON with everything (Answer.from_dict loads "
             "its answers)", response_class=Response, responses={**errors(404), 200: {
                 "content": {"text/markdown": {}, "application/json": {}},
                 "description": "The file (Content-Disposition: attachment)."}})
    def export(conv_id: str = conv_id_param,
               fmt: Literal["md", "json"] = Query("md", alias="format"),
               user: str = Depends(who)) -> Response:
        conv = store.get(user, conv_id)
        turns = store.turns(user, conv_id)
        body, media = (export_json(conv, turns), "application/json") if fmt == "json" else \
            (export_markdown(conv, turns), "text/markdown; charset=utf-8")
        return Response(body, media_type=media, headers={
            "content-disposition": f'attachment; filename="{export_name(conv, fmt)}"'})

    @api.post("/conversations/{conv_id}/turns/{n}/feedback", summary="Rate the answer of a "
              "turn (replaces an earlier rating of it)", response_model=RatedOut,
              responses=errors(400, 404))
    def feedback(req: FeedbackIn, conv_id: str = conv_id_param,
                 n: int = FPath(..., ge=1, le=MAX_TURNS, description="1: the first question."),
                 user: str = Depends(who)) -> dict:
        given = store.rate(user, conv_id, n, req.rating, req.reason, req.note)
        return {"conversation_id": conv_id, "turn": n, "feedback": given.to_dict()}

    @api.delete("/conversations/{conv_id}/turns/{n}/feedback", summary="Take back the "
                "rating of a turn's answer (none given is fine)", response_model=UnratedOut,
                responses=errors(400, 404))
    def unrate(conv_id: str = conv_id_param,
               n: int = FPath(..., ge=1, le=MAX_TURNS, description="1: the first question."),
               user: str = Depends(who)) -> dict:
        store.unrate(user, conv_id, n)
        return {"conversation_id": conv_id, "turn": n, "feedback": None}

    @api.post("/search", summary="The best passages for a query (no answer), optionally "
              "within chosen documents", response_model=list[PassageOut],
              responses=errors(400, 404, 409, 424, 503))
    def search(req: SearchRequest) -> list[dict]:
        hits = service.search(req.query, req.k, documents=req.documents)
        return [{"document": document_id(h.path), "path": h.path, "page": h.page,
                 "label": h.label, "start": h.start, "end": h.end, "text": h.text,
                 "score": h.score} for h in hits]

    @api.post("/documents", summary="Upload documents and index them incrementally",
              response_model=UploadOut, responses=errors(400, 409, 413, 415, 424))
    def upload(files: list[UploadFile] = File(..., min_length=1,
                                              description="Files to add")) -> dict:
        saved, summary = service.add_files((f.filename or "", f.file) for f in files)
        names = set(saved)
        return {"saved": saved, "summary": summary.to_dict(),
                "not_indexed": [{"path": s.path, "reason": s.reason} for s in summary.skipped
                                if Path(s.path).name in names],
                "status": status_dict(service)}

    @api.get("/documents", summary="The library: indexed and skipped documents",
             response_model=list[DocumentOut], responses=errors(409))
    def documents() -> list[dict]:
        return [d.to_dict() for d in service.documents()]

    @api.delete("/documents/{doc_id}", summary="Remove a document from the index",
                response_model=DeleteOut, responses=errors(404, 409, 424))
    def delete(doc_id: str) -> dict:
        doc, summary = service.delete_document(doc_id)
        return {"deleted": doc.to_dict(), "summary": summary.to_dict(),
                "action": "deleted" if service.in_uploads(doc) else "excluded"}

    @api.post("/documents/{doc_id}/reindex", summary="Read one document again now; it is "
              "re-embedded only if its content changed", response_model=ReindexOut,
              responses=errors(404))
    def reindex(doc_id: str) -> dict:
        doc, changed, summary = service.reindex_document(doc_id)
        return {"document": doc.to_dict() if doc else None, "reembedded": changed,
                "summary": summary.to_dict()}

    @api.post("/documents/{doc_id}/include", summary="Undo an exclusion: index a document "
              "of your own folder again", response_model=IncludeOut, responses=errors(404))
    def include(doc_id: str) -> dict:
        doc, summary = service.include_document(doc_id)
        return {"document": doc.to_dict() if doc else None, "summary": summary.to_dict()}

    @api.api_route("/documents/{doc_id}/file", methods=["GET", "HEAD"],
                   summary="The original file of an indexed document (add #page=N to open a "
                   "PDF at a page)", response_class=FileResponse, responses=errors(404))
    def original(doc_id: str) -> FileResponse:
        doc = service.document(doc_id)
        if doc.status != "indexed" or not Path(doc.path).is_file():
            raise NotFoundError(f"{doc.name} is not an indexed document")
        return original_response(doc)

    @api.get("/documents/{doc_id}/pages/{page}.png", summary="A page of an indexed PDF as an "
             "image; ?start=&end= (offsets in the page text) marks a span",
             response_class=Response, responses={**errors(404), 200: {
                 "content": {"image/png": {}}, "description": "The page image."}})
    def page_image(doc_id: str, page: int = FPath(..., ge=1, le=MAX_PAGE),
                   start: int = Query(0, ge=0, le=MAX_OFFSET),
                   end: int = Query(0, ge=0, le=MAX_OFFSET)) -> Response:
        doc = service.document(doc_id)
        if doc.status != "indexed" or doc.type != "pdf" or not Path(doc.path).is_file():
            raise NotFoundError(f"{doc.name} is not an indexed PDF")
        span = service.index.page_text(doc.path, page)[max(start, 0):max(end, 0)]
        st = Path(doc.path).stat()
        png = page_png(doc.path, page, span, (st.st_size, st.st_mtime_ns))
        return Response(png, media_type="image/png",
                        headers={"cache-control": "private, max-age=300"})

    @api.post("/documents/{doc_id}/summary", summary="A cited summary of one document: "
              "its most central sentences covering its sections, in document order, each "
              "cited with its passage and page", response_model=AnswerOut,
              responses=errors(400, 404, 409, 503))
    def summary(doc_id: str, sentences: int | None = Query(
            None, ge=1, le=20, description="How many sentences (default 8, or one per "
                                            "top-level section of a long document).")) -> dict:
        doc = service.document(doc_id)
        if doc.status != "indexed":
            raise NotFoundError(f"{doc.name} is not an indexed document ({doc.status})")
        return service.summarise([doc.id], sentences).to_dict()

    @api.get("/status", summary="What the index holds", response_model=StatusOut,
             responses=errors(409))
    def status() -> dict:
        return status_dict(service)

    return api


def offline_docs(app: FastAPI, deps: list) -> None:
    """/docs with Swagger UI's files served from this server (no CDN: works offline), and the
    schema at /openapi.json; both behind the login when there is one (``deps``)."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=static), name="api-docs-assets")

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=deps)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=deps)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title="docchat API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")


def install(app: FastAPI, service: Service, credentials: tuple[str, str] | None = None,
            session_user: Callable[[Request], str | None] = lambda _: None) -> None:
    app.include_router(router(service, credentials, session_user))
    offline_docs(app, [Depends(basic_auth(credentials, session_user))] if credentials else [])

    @app.exception_handler(DocchatError)
    async def docchat_error(_: Request, exc: DocchatError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=headers)

    @app.exception_handler(sqlite3.Error)
    async def storage(_: Request, exc: sqlite3.Error) -> JSONResponse:
        """The index's disk full or failing: said as such (507), not a bare 500."""
        full = storage_error(exc)
        if full is None:
            raise exc
        return JSONResponse({"detail": str(full)}, status_code=status_for(full))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422, with each refused value echoed as a short prefix only (a 200 MiB
        question came back whole)."""
        return JSONResponse({"detail": [short_echo(e) for e in exc.errors()]}, status_code=422)


def short_echo(error: dict) -> dict:
    """One validation error as JSON: the refused value cut to a short prefix, and text that
    is not valid Unicode (a lone surrogate) made printable, so the 422 itself cannot fail."""
    out = dict(error)
    if "input" in out:
        value = out["input"]
        text = value if isinstance(value, str) else \
            value.decode("utf-8", "replace") if isinstance(value, bytes) else None
        if text is None and isinstance(value, (list, dict, tuple)):
            text = repr(value) if len(repr(value)) > ECHO_CHARS else None
        if text is not None:
            out["input"] = printable(text[:ECHO_CHARS] + ("…" if len(text) > ECHO_CHARS else ""))
    return jsonable_encoder(out, custom_encoder={
        str: printable, bytes: lambda b: b.decode("utf-8", "replace")})


def printable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")
