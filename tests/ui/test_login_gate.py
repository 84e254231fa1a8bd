"""The login in front of every route (ui/login_gate.py), driven as ASGI calls: without the login
a request gets 401 before its body is read and before the app sees it (Basic is offered to
API and MCP clients only); with it (HTTP Basic as UTF-8, or the page's session) it passes;
only what the login form needs is open; the login is compared in constant time.
(tests/ui/test_auth.py does the same through a real server.)"""
from __future__ import annotations

import base64

import pytest
from asgi_call import AsgiCall
from test_api_auth import record_compare_digest

from ui.login_gate import LoginGate, is_public

CREDS = ("anna", "pässwörd:ß€")  # non-ASCII, and a colon in the password


def basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


class Call(AsgiCall):
    """One request through the gate (``headers`` added to the scope) to an app that answers
    200 without reading the body; ``session`` is the page's login session user, if any."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] = (),
                 session: str | None = None, scope_type: str = "http",
                 method: str = "POST") -> None:
        super().__init__([b'{"question": "x"}'])
        self.app_called = False
        self.run(self.with_headers(LoginGate(self.app, CREDS, lambda _: session), headers),
                 method, path, length=17, scope_type=scope_type)

    @staticmethod
    def with_headers(gate, headers):
        async def outer(scope, receive, send):
            scope["headers"] = [*scope["headers"], *headers]
            await gate(scope, receive, send)
        return outer

    async def app(self, scope, receive, send) -> None:
        self.app_called = True
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    def header(self, name: bytes) -> bytes | None:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"]).get(name)


@pytest.mark.parametrize("path", ["/", "/login", "/login/", "/logout", "/theme.css",
                                  "/favicon.ico", "/manifest.json", "/robots.txt",
                                  "/assets/index-3f2a.js", "/static/img/logo.svg",
                                  "/svelte/svelte.js"])
def test_what_the_login_form_needs_is_open(path):
    assert is_public(path)
    call = Call(path, method="GET")
    assert call.app_called and call.status == 200


@pytest.mark.parametrize("path", ["/api/status", "/api/ask", "/mcp", "/mcp/", "/docs",
                                  "/openapi.json", "/config", "/gradio_api/queue/join",
                                  "/gradio_api/upload", "/assets/../api/status",
                                  "/static/../config", "/loginx", "/login/x", "/assetsx/a.js",
                                  "/favicon.ico/../api/status", ""])
def test_everything_else_needs_the_login(path):
    assert not is_public(path)


@pytest.mark.parametrize("path,challenge", [
    ("/api/ask", True), ("/mcp/", True), ("/docs", True), ("/openapi.json", True),
    ("/gradio_api/queue/join", False), ("/gradio_api/upload", False), ("/config", False)])
def test_without_the_login_a_request_is_refused_before_its_body_is_read(path, challenge):
    call = Call(path)
    assert call.status == 401 and call.detail == "login required"
    assert not call.app_called and call.reads == 0
    body = b"".join(m.get("body", b"") for m in call.sent if m["type"] == "http.response.body")
    assert call.header(b"content-length") == str(len(body)).encode()
    # Basic is offered to API and MCP clients; on the page's own routes a challenge made the
    # browser pop its own login box once a restart had forgotten the page's session
    assert (call.header(b"www-authenticate") == b"Basic") == challenge


def test_the_login_as_http_basic_in_utf8_lets_a_request_through():
    call = Call("/api/ask", [(b"authorization", basic(*CREDS))])
    assert call.app_called and call.status == 200


@pytest.mark.parametrize("header", [
    basic("anna", "pässwörd"),  # the password cut at its colon
    basic("anna", "wrong"), basic("ann", CREDS[1]), basic("", ""),
    b"Basic " + base64.b64encode("anna:pässwörd:ß€".encode("latin-1", "replace")),
    b"Basic !!!not-base64", b"Basic", b"Bearer " + base64.b64encode(b"anna:x"),
    b"basic " + base64.b64encode(b"annapassword")])  # no colon at all
def test_a_wrong_or_garbled_login_is_refused_not_an_error(header):
    call = Call("/api/ask", [(b"authorization", header)])
    assert call.status == 401 and not call.app_called and call.reads == 0


def test_the_pages_login_session_lets_a_request_through():
    assert Call("/gradio_api/queue/join", session="anna").app_called
    assert not Call("/gradio_api/queue/join", session=None).app_called


def test_a_websocket_without_the_login_is_closed_with_a_policy_violation():
    call = Call("/gradio_api/queue/ws", scope_type="websocket")
    assert not call.app_called
    assert call.sent == [{"type": "websocket.close", "code": 1008}]
    assert Call("/gradio_api/queue/ws", [(b"authorization", basic(*CREDS))],
                scope_type="websocket").app_called


def test_the_servers_own_lifespan_events_pass_untouched():
    call = Call("", scope_type="lifespan")
    assert call.app_called and call.sent == []


@pytest.mark.parametrize("given", [("anna", "wrong"), ("eve", "wrong"), ("eve", CREDS[1]),
                                   CREDS])
def test_the_login_is_compared_in_constant_time_whichever_part_is_wrong(monkeypatch, given):
    """Both the user name and the password are compared, each with compare_digest, whether
    or not the name is right: skipping the password's comparison for a wrong name would let
    the time of a refusal tell a right name from a wrong one."""
    compared = record_compare_digest(monkeypatch)
    call = Call("/api/ask", [(b"authorization", basic(*given))])
    assert call.app_called == (given == CREDS)
    assert sorted(compared) == sorted([(given[0].encode(), CREDS[0].encode()),
                                       (given[1].encode(), CREDS[1].encode())])
