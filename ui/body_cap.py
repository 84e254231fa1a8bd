"""Request bodies larger than their cap are refused before they are read or stored: from their
Content-Length at once, and a body sent without one (chunked) is cut off when it passes the
cap. Uploads have their own cap (DOCCHAT_UPLOAD_MAX_REQUEST_MB); every other body (a question
with its history, the page's calls) DOCCHAT_MAX_BODY_KB. Starlette and Gradio would otherwise
read a 200 MiB question whole, or write a whole upload to temporary files, before any check."""
from __future__ import annotations

import json

from fastapi import HTTPException

#: The routes that take uploads: the HTTP API's and the page's (Gradio's upload route).
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")


class TooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the cap; an HTTPException, so that a route
    parsing the body answers 413 with it rather than "error parsing the body" (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyCap:
    def __init__(self, app, max_bytes: int, other_max_bytes: int | None = None) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.other_max_bytes = other_max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            return await self.app(scope, receive, send)
        if scope["path"].rstrip("/") in UPLOAD_PATHS:
            cap, message = self.max_bytes, _message(self.max_bytes)
        elif self.other_max_bytes is not None:
            cap, message = self.other_max_bytes, (
                f"the request body is larger than {self.other_max_bytes / 1024:g} KiB "
                "(DOCCHAT_MAX_BODY_KB); it was not read")
        else:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            return await self._refuse(send, message)
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > cap:
                raise TooLarge(message)
            return msg

        async def tracked_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except TooLarge:
            if not started:
                await self._refuse(send, message)

    async def _refuse(self, send, message: str) -> None:
        body = json.dumps({"detail": message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _message(max_bytes: int) -> str:
    return (f"the upload is larger than {max_bytes / 2**20:g} MiB "
            "(DOCCHAT_UPLOAD_MAX_REQUEST_MB); nothing was stored")
