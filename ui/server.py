"""The server: the JSON API and the chat page on one FastAPI app, run by uvicorn."""
from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import threading

from rag.settings import Settings  # sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

from rag.errors import DocchatError  # noqa: E402
from ui import api, api_auth  # noqa: E402
from ui.app import ASK_API_INPUTS, THEME, build_blocks  # noqa: E402
from ui.assets import CSS, HEAD_JS  # noqa: E402
from ui.body_cap import BodyCap  # noqa: E402
from ui.guard import RequestGuard  # noqa: E402
from ui.login_gate import LoginGate  # noqa: E402
from ui.gradio_inputs import GradioInputs  # noqa: E402
from ui.mcp_tools import build_server as build_mcp_server  # noqa: E402
from ui.service import Service  # noqa: E402
from ui.watcher import Watcher  # noqa: E402

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
    Watcher(service).start()
    service.preload()
    # MCP over streamable HTTP at /mcp (ui/mcp_tools.py): its session manager must run for the
    # server's lifetime, and a mounted app's own lifespan never runs, so this app's runs it
    # (Gradio's mount wraps this lifespan, it does not replace it).
    mcp_server = build_mcp_server(service, settings)
    mcp_app = mcp_server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True,
        transport_security=mcp_security(settings), host=settings.host)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with mcp_server.session_manager.run():
            yield

    app = FastAPI(title="docchat", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan,
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
    mount_mcp(app, mcp_app)  # before the page, which takes the rest
    blocks = build_blocks(service)
    mounted = gr.mount_gradio_app(
        app, blocks, path="", server_name=settings.host, server_port=settings.port,
        auth=api_auth.page_login(credentials), max_file_size=service.max_bytes,
        ssr_mode=False, footer_links=[], theme=THEME, css=CSS, head=HEAD_JS,
        allowed_paths=[], enable_monitoring=False, mcp_server=False)
    page_app.extend(r.app for r in mounted.routes
                    if isinstance(r, Mount) and hasattr(r.app, "tokens"))
    mounted.add_middleware(GradioInputs, endpoints={"ask": ASK_API_INPUTS})
    mounted.add_middleware(BodyCap, max_bytes=int(settings.upload_max_request_mb * 2**20),
                           other_max_bytes=int(settings.max_body_kb * 1024))
    if credentials:  # before any body is read (ui/login_gate.py)
        mounted.add_middleware(LoginGate, credentials=credentials, session_user=session_user)
    mounted.add_middleware(RequestGuard, bind_host=settings.host,
                           allowed_hosts=settings.allowed_hosts)  # outermost: runs first

    @mounted.middleware("http")
    async def no_sniffing(request, call_next):  # no response is ever read as another type
        response = await call_next(request)
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response
    return mounted


MCP_PATH = "/mcp"


def mcp_security(settings: Settings):
    """The MCP SDK's DNS-rebinding check (Host and Origin) with the names RequestGuard
    answers for (127.0.0.1, localhost, [::1], the bind address, DOCCHAT_ALLOWED_HOSTS), with
    or without a port; off when the guard accepts any Host (bound to 0.0.0.0 with no list)."""
    from mcp.server.transport_security import TransportSecuritySettings

    guard = RequestGuard(None, bind_host=settings.host, allowed_hosts=settings.allowed_hosts)
    if guard.any_host:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = sorted(guard.hosts)
    return TransportSecuritySettings(
        allowed_hosts=[h for n in names for h in (n, f"{n}:*")],
        allowed_origins=[o for n in names for scheme in ("http", "https")
                         for o in (f"{scheme}://{n}", f"{scheme}://{n}:*")])


def mount_mcp(app: FastAPI, mcp_app) -> None:
    """The MCP endpoint at /mcp/ (and at /mcp, without a redirect); with a login set, the
    LoginGate in front of every route guards it too."""
    app.router.routes.append(Route(MCP_PATH, endpoint=WithSlash(mcp_app)))
    app.mount(MCP_PATH, mcp_app, name="mcp")


class WithSlash:
    """ASGI: /mcp handed to the mounted app as the mount hands it /mcp/."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        root = scope.get("root_path", "") + MCP_PATH
        await self.app({**scope, "path": f"{root}/", "raw_path": f"{root}/".encode(),
                        "root_path": root}, receive, send)


def check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the port is taken (before building anything)."""
    with socket.socket() as sock:
        # as uvicorn binds: a server killed a moment ago leaves connections in TIME_WAIT,
        # which must not make the port look taken ("port in use" for a minute after a crash)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
