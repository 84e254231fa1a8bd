"""What every request passes before any route (the API's, the page's, Gradio's own) reads it:

- **Host**: only the names this server is reached by (its bind address, 127.0.0.1, localhost,
  [::1], and DOCCHAT_ALLOWED_HOSTS). A DNS-rebinding page makes the browser send its own
  name as Host; it gets 421, so it can neither read documents nor ask (issue 20, item 6).
- **Same origin for every change**: a POST, PUT, PATCH or DELETE that a browser sends from
  another site (its Origin, or Sec-Fetch-Site: cross-site) gets 403, so no web page can make
  the browser upload, delete or ask (item 5). Programs (curl, the Python client) send neither
  header and are not affected; a login, when set, still applies to them.
- **Cookies**: the login cookies are SameSite=Lax (Gradio sets SameSite=None), so the browser
  does not attach them to another site's requests.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def host_name(host: str) -> str:
    """The name part of a Host header value (``[::1]:7860`` -> ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    def __init__(self, app, bind_host: str, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.app = app
        allowed = {h.lower() for h in allowed_hosts}
        self.any_host = "*" in allowed or (bind_host in ANY_ADDRESS and not allowed)
        self.hosts = LOCAL_NAMES | {bind_host.lower()} | allowed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if host and not self.any_host and host.lower() not in self.hosts \
                and host_name(host) not in self.hosts:
            return await _refuse(send, 421, f"this server does not answer for the host "
                                 f"{host[:100]!r} (DOCCHAT_ALLOWED_HOSTS adds names)",
                                 scope["type"] == "websocket")
        if scope["type"] == "websocket" or scope["method"] in CHANGES:
            why = cross_site(headers, host)
            if why:
                return await _refuse(send, 403, f"refused a change requested by another site "
                                     f"({why})", scope["type"] == "websocket")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def lax_cookies(msg):
            if msg["type"] == "http.response.start":
                msg["headers"] = [(k, _lax(v) if k.lower() == b"set-cookie" else v)
                                  for k, v in msg.get("headers", [])]
            await send(msg)
        await self.app(scope, receive, lax_cookies)


def cross_site(headers: dict[str, str], host: str) -> str:
    """Why a request comes from another site, or "" when it is same-origin or not from a
    browser (no Origin and no Sec-Fetch-Site header)."""
    origin = headers.get("origin")
    if origin is not None:
        if origin == "null":
            return "Origin: null"
        netloc = urlsplit(origin).netloc.lower()
        if not host or netloc != host.lower():
            return f"Origin {origin[:100]}"
        return ""
    if headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    return ""


def _lax(value: bytes) -> bytes:
    parts = [p for p in value.split(b";") if not p.strip().lower().startswith(b"samesite")]
    return b";".join(parts) + b"; SameSite=Lax"


async def _refuse(send, status: int, message: str, websocket: bool = False) -> None:
    if websocket:  # closing before accepting refuses the handshake (HTTP 403)
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
