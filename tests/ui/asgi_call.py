"""One HTTP request driven through an ASGI middleware by hand, for the middleware tests
(test_body_cap.py, test_gradio_inputs.py): the client's body as chunks, how many times it was
read, and every message sent back."""
from __future__ import annotations

import asyncio
import json

#: The size of each chunk of a body sent without end.
ENDLESS_CHUNK = 16 * 1024


class AsgiCall:
    """``chunks``: the body as the client sends it (None: ENDLESS_CHUNK bytes at a time,
    without end); after the last chunk the client disconnects."""

    def __init__(self, chunks: list[bytes] | None) -> None:
        self.chunks = chunks
        self.reads = 0
        self.sent: list[dict] = []

    def run(self, middleware, method: str, path: str, length: int | str | None = None,
            scope_type: str = "http") -> "AsgiCall":
        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        scope = {"type": scope_type, "path": path, "headers": headers, "query_string": b"",
                 "root_path": "", "scheme": "http", "http_version": "1.1",
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
        if scope_type == "http":
            scope["method"] = method
        asyncio.run(middleware(scope, self.receive, self.send))
        return self

    async def receive(self) -> dict:
        self.reads += 1
        if self.chunks is None:
            return {"type": "http.request", "body": b"x" * ENDLESS_CHUNK, "more_body": True}
        if self.reads > len(self.chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": self.chunks[self.reads - 1],
                "more_body": self.reads < len(self.chunks)}

    async def send(self, msg: dict) -> None:
        self.sent.append(msg)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def detail(self) -> str:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent
                                   if m["type"] == "http.response.body"))["detail"]


async def read_body(receive) -> bytes:
    """The whole request body, as an app reads it."""
    body, more = b"", True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    return body
