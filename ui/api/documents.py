"""/api/documents (the library: upload, list, delete, re-index, include again, the original
file, a PDF page as an image, a cited summary) and /api/status."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, File, Query, UploadFile
from fastapi import Path as FPath
from fastapi.responses import FileResponse, Response

from rag.errors import NotFoundError
from rag.types import DocumentStatus
from ui.api.errors import errors
from ui.api_models import (AnswerOut, DeleteOut, DocumentOut, IncludeOut, ReindexOut,
                           StatusOut, UploadOut)
from ui.library_text import skipped_uploads
from ui.preview import page_png
from ui.service import Service

MAX_PAGE = 1_000_000  # pages of a PDF (the page-image route): larger numbers are a 422
MAX_OFFSET = 10**9  # characters of a page text

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
            "engine": service.settings.engine, "ready": service.model_ready.is_set()}


def router(service: Service) -> APIRouter:
    api = APIRouter()

    @api.post("/documents", summary="Upload documents and index them incrementally",
              response_model=UploadOut, responses=errors(400, 409, 413, 415, 424))
    def upload(files: list[UploadFile] = File(..., min_length=1,
                                              description="Files to add")) -> dict:
        saved, summary = service.add_files((f.filename or "", f.file) for f in files)
        failed = skipped_uploads(summary, [service.docs / name for name in saved])
        return {"saved": saved, "summary": summary.to_dict(),
                "not_indexed": [{"path": s.path, "reason": s.reason} for s in failed],
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
        if doc.status != DocumentStatus.INDEXED or not Path(doc.path).is_file():
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
        if doc.status != DocumentStatus.INDEXED or doc.type != "pdf" or not Path(doc.path).is_file():
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
        if doc.status != DocumentStatus.INDEXED:
            raise NotFoundError(f"{doc.name} is not an indexed document ({doc.status})")
        return service.summarise([doc.id], sentences).to_dict()

    return api


def status_router(service: Service) -> APIRouter:
    """GET /status: what the index holds (as after an upload)."""
    api = APIRouter()

    @api.get("/status", summary="What the index holds", response_model=StatusOut,
             responses=errors(409))
    def status() -> dict:
        return status_dict(service)

    return api
