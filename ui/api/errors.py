"""How the API fails: each error a 4xx (or 503/507) with {"detail": "<one line>"}, each
status declared on the operations that return it, and a refused request's values echoed
short."""
from __future__ import annotations

import sqlite3

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rag.errors import (DocchatError, EmbeddingError, EngineError, IndexCorruptError,
                        IndexMismatchError, IndexNotFoundError, NotFoundError, QuestionError,
                        StorageError, UploadError, storage_error)
from ui.admission import BusyError
from ui.api_models import ErrorOut

ECHO_CHARS = 200  # a refused request's values are echoed up to this many characters


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


def install_handlers(app: FastAPI) -> None:
    """The app's answers to a DocchatError, a failing disk and a request the schema refuses."""

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
