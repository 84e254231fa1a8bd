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

# One module a resource, each with its own router: ask (POST /ask, POST /search),
# conversations (/conversations and the feedback on a turn), documents (/documents and
# /status); errors says how every route fails. This module puts them under /api, in the
# order the schema lists them, behind the login when one is set.
from pathlib import Path
from typing import Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ui.api import ask, conversations, documents
from ui.api.ask import ask_model  # noqa: F401  importable from ui.api as before
from ui.api.conversations import MAX_TURNS  # noqa: F401
from ui.api.documents import (MAX_OFFSET, MAX_PAGE, NO_ACTIVE_CONTENT,  # noqa: F401
                              PLAIN_TEXT, original_response, status_dict)
from ui.api.errors import (ECHO_CHARS, errors, install_handlers, printable,  # noqa: F401
                           short_echo, status_for)
from ui.api_auth import basic_auth, caller
from ui.service import Service

DOCS_ASSETS = "/api-docs-assets"  # Swagger UI's JS and CSS, from the fastapi-offline package
OPENAPI_URL = "/openapi.json"  # served by offline_docs (FastAPI's own route is off: no login)


def router(service: Service, credentials: tuple[str, str] | None = None,
           session_user: Callable[[Request], str | None] = lambda _: None) -> APIRouter:
    # no login: no security scheme at all (the schema shows HTTP Basic only when it is on)
    deps = [Depends(basic_auth(credentials, session_user))] if credentials else []
    api = APIRouter(prefix="/api", tags=["docchat"], dependencies=deps,
                    responses=errors(401) if credentials else {})
    who = caller(credentials, session_user)
    for resource in (ask.router(service, who), conversations.router(service, who),
                     ask.search_router(service), documents.router(service),
                     documents.status_router(service)):  # the order the schema lists them in
        api.include_router(resource)
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
    install_handlers(app)
