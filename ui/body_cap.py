"""Upload requests larger than the cap are refused before they are stored: from their
Content-Length at once, and a body sent without one (chunked) is cut off when it passes the
cap. Starlette and Gradio would otherwise write the whole body to temporary files first."""
from __future__ import annotations

import json

from fastapi import HTTPException

#: The routes that take uploads: the HTTP API's and the page's (Gradio's upload route).
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")


class TooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the cap; an HTTPException, so that a route
    parsing the body answers 413 with it rather than "error parsing the body" (400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))


class BodyCap:
    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or \
                scope["path"].rstrip("/") not in UPLOAD_PATHS:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(send)
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > self.max_bytes:
                raise TooLarge(self.max_bytes)
            return msg

        async def tracked_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": _message(self.max_bytes)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _message(max_bytes: int) -> str:
    return (f"the upload is larger than {max_bytes / 2**20:g} MiB "
            "(DOCCHAT_UPLOAD_MAX_REQUEST_MB); nothing was stored")
