"""The JSON API served beside the page: POST /api/ask, POST /api/documents, GET /api/status.

Errors are 4xx with {"detail": "<one line for the user>"}: a bad question 400, an unknown
field value 422 (FastAPI's validation), a refused upload 400/413/415, no index yet 409, an
answer engine that cannot be reached 424. Nothing a client sends can produce a 500.
"""
from __future__ import annotations

import secrets
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from rag.engines import ENGINES
from rag.errors import (DocchatError, EngineError, IndexCorruptError, IndexNotFoundError,
                        QuestionError, UploadError)
from ui.service import Service

MAX_HISTORY = 20


class AskRequest(BaseModel):
    question: str = Field(..., description="The question, in plain text.")
    history: list[tuple[str, str]] = Field(
        default_factory=list, max_length=MAX_HISTORY,
        description="Earlier (question, answer) turns, oldest first, for follow-up questions.")
    engine: Literal[ENGINES] | None = Field(None, description="Answer engine; default from "
                                            "settings (extractive).")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve.")


def status_for(exc: DocchatError) -> int:
    if isinstance(exc, UploadError):
        return exc.status
    if isinstance(exc, QuestionError):
        return 400
    if isinstance(exc, (IndexNotFoundError, IndexCorruptError)):
        return 409
    if isinstance(exc, EngineError):
        return 424  # the engine the request depends on failed; the message says how
    return 400


def basic_auth(credentials: tuple[str, str] | None):
    """A dependency that requires HTTP Basic ``credentials`` (none: open)."""
    security = HTTPBasic(auto_error=False)

    def check(given: HTTPBasicCredentials | None = Depends(security)) -> None:
        if credentials is None:
            return
        ok = given is not None and secrets.compare_digest(
            given.username.encode(), credentials[0].encode()) and secrets.compare_digest(
            given.password.encode(), credentials[1].encode())
        if not ok:
            raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Basic"})
    return check


def router(service: Service, credentials: tuple[str, str] | None = None) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["docchat"],
                    dependencies=[Depends(basic_auth(credentials))])

    @api.post("/ask", summary="Answer a question with verified citations")
    def ask(req: AskRequest) -> dict:
        return service.answer(req.question, req.history, req.engine, req.k).to_dict()

    @api.post("/documents", summary="Upload documents and index them incrementally")
    def documents(files: list[UploadFile] = File(..., description="Files to add")) -> dict:
        saved, summary = service.add_files((f.filename or "", f.file) for f in files)
        return {"saved": saved, "summary": summary.to_dict(),
                "status": service.status().to_dict()}

    @api.get("/status", summary="What the index holds")
    def status() -> dict:
        return {**service.status().to_dict(), "documents": str(service.docs),
                "engine": service.settings.engine}

    return api


def install(app: FastAPI, service: Service, credentials: tuple[str, str] | None = None) -> None:
    app.include_router(router(service, credentials))

    @app.exception_handler(DocchatError)
    async def docchat_error(_: Request, exc: DocchatError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))
