"""With a login set (``serve --auth``), every request carries it before anything reads it.

The gate sits just inside RequestGuard, in front of every route: the API, the page's Gradio
routes, MCP. A request without the login (HTTP Basic, or the cookie of the page's login
session) gets 401 before its body is read, so a large body sent without credentials costs
nothing (issue 20, item 7), and Gradio's own routes that answered anyone (heartbeat, cancel,
startup-events, app_id, token, user, queue, upload: item 14) are closed like the rest.

Open without it is only what the login form needs to show and submit: the page ("/"), its
static files and theme, and Gradio's /login (measured: Chromium loading the login page and
logging in requests "/", /assets/*, /static/*, /theme.css, then POST /login; ``PUBLIC`` adds
the icons a browser asks for by itself)."""
from __future__ import annotations

import json
from typing import Callable

from starlette.requests import HTTPConnection, Request

from ui.api_auth import Utf8Basic, login_ok

PUBLIC = frozenset({"/", "/login", "/login/", "/logout", "/theme.css", "/favicon.ico",
                    "/manifest.json", "/robots.txt"})
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/")
# The API's callers, MCP clients and the schema pages understand Basic: they get the
# challenge. The page's own routes (queue, heartbeat) do not: after a server restart forgets
# the page's login session, a challenge there made the browser pop its own login box.
CHALLENGE = [(b"www-authenticate", b"Basic")]
CHALLENGED = ("/api/", "/mcp", "/docs", "/openapi.json", "/api-docs-assets/")


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES) and ".." not in path


class LoginGate:
    def __init__(self, app, credentials: tuple[str, str],
                 session_user: Callable[[Request], str | None]) -> None:
        self.app = app
        self.credentials = credentials
        self.session_user = session_user
        self.basic = Utf8Basic(auto_error=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(scope.get("path", "")):
            return await self.app(scope, receive, send)
        # headers and cookies only: the body is not touched (HTTPConnection: a websocket too)
        request = HTTPConnection(scope)
        if login_ok(self.credentials, await self.basic(request)) or self.session_user(request):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = json.dumps({"detail": "login required"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                *(CHALLENGE if scope["path"].startswith(CHALLENGED) else [])]})
        await send({"type": "http.response.body", "body": body})
