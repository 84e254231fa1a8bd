"""The server: the JSON API and the chat page on one FastAPI app, run by uvicorn."""
from __future__ import annotations

import errno
import os
import socket
import sys
import threading

from rag.settings import Settings  # sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from rag.errors import DocchatError  # noqa: E402
from ui import api  # noqa: E402
from ui.app import ASK_API_INPUTS, THEME, build_blocks  # noqa: E402
from ui.assets import CSS, HEAD_JS  # noqa: E402
from ui.body_cap import BodyCap  # noqa: E402
from ui.guard import RequestGuard  # noqa: E402
from ui.gradio_inputs import GradioInputs  # noqa: E402
from ui.service import Service  # noqa: E402

#: Seconds the server gives requests in flight after SIGTERM / Ctrl-C before it stops anyway;
#: an index update still running then is abandoned (a killed update leaves the last complete
#: state, by the store's crash guarantee).
SHUTDOWN_SECONDS = 3

def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise DocchatError("--auth must be USER:PASS")
    return user, password


def create_app(settings: Settings, auth: str | None = None) -> FastAPI:
    """The FastAPI app: /api/* and the OpenAPI schema, with the page mounted at /."""
    credentials = parse_auth(auth)
    service = Service(settings)
    service.ensure_index()
    service.start_watching()
    service.preload()
    app = FastAPI(title="docchat", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Ask questions about your documents; every sentence is cited.")
    page_app: list = []  # Gradio's app, once mounted: its login sessions also open the API

    def session_user(request) -> str | None:
        # Gradio 6 keeps the page's logins as cookie tokens on its App (routes.App.tokens)
        if not page_app:
            return None
        gapp = page_app[0]
        token = request.cookies.get(f"access-token-{gapp.cookie_id}") or \
            request.cookies.get(f"access-token-unsecure-{gapp.cookie_id}")
        return gapp.tokens.get(token) if token else None

    api.install(app, service, credentials, session_user)
    blocks = build_blocks(service)
    mounted = gr.mount_gradio_app(
        app, blocks, path="", server_name=settings.host, server_port=settings.port,
        auth=credentials, max_file_size=service.max_bytes,
        ssr_mode=False, footer_links=[], theme=THEME, css=CSS, head=HEAD_JS,
        allowed_paths=[], enable_monitoring=False, mcp_server=False)
    page_app.extend(r.app for r in mounted.routes
                    if isinstance(r, Mount) and hasattr(r.app, "tokens"))
    mounted.add_middleware(GradioInputs, endpoints={"ask": ASK_API_INPUTS})
    mounted.add_middleware(BodyCap, max_bytes=int(settings.upload_max_request_mb * 2**20),
                           other_max_bytes=int(settings.max_body_kb * 1024))
    mounted.add_middleware(RequestGuard, bind_host=settings.host,
                           allowed_hosts=settings.allowed_hosts)  # outermost: runs first

    @mounted.middleware("http")
    async def no_sniffing(request, call_next):  # no response is ever read as another type
        response = await call_next(request)
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response
    return mounted


def check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the port is taken (before building anything)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DocchatError(f"port {port} is in use on {host}; set DOCCHAT_PORT or --port"
                               if exc.errno == errno.EADDRINUSE else
                               f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(settings: Settings, auth: str | None = None) -> None:
    check_port(settings.host, settings.port)
    app = create_app(settings, auth)
    print(f"docchat: chat page at http://{settings.host}:{settings.port}/ "
          f"(API docs at /docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    busy = [t for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if busy:  # an index update still running in a request thread: do not wait for it
        print("docchat: stopped; an index update in progress was abandoned (the index "
              "keeps its last complete state, the next update finishes the job)",
              file=sys.stderr, flush=True)
        os._exit(0)
