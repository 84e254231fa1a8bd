"""Request bodies over their cap (ui/body_cap.py), driven as ASGI calls: a declared oversized
body is refused before a byte of it is read and before the app sees it; a body sent without
a length is cut off as it passes the cap; everything else reaches the app untouched.
(tests/ui/test_upload_cap.py does the same through a real server.)"""
from __future__ import annotations

import pytest
from asgi_call import ENDLESS_CHUNK as CHUNK, AsgiCall, read_body

from ui.body_cap import BodyCap

UPLOAD_CAP, OTHER_CAP = 2 * 2**20, 64 * 1024


class Call(AsgiCall):
    """One request through BodyCap to an app that reads the whole body, then answers 200
    (unless another ``app`` is given); ``chunks`` as AsgiCall's."""

    def __init__(self, method: str, path: str, chunks: list[bytes] | None,
                 length: int | str | None = None, other_cap: int | None = OTHER_CAP,
                 app=None, scope_type: str = "http") -> None:
        super().__init__(chunks)
        self.app_body: bytes | None = None
        self.app_called = False
        self.run(BodyCap(app or self.reading_app, UPLOAD_CAP, other_cap), method, path, length,
                 scope_type)

    async def reading_app(self, scope, receive, send) -> None:
        self.app_called = True
        self.app_body = await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.app_body)).encode()})


@pytest.mark.parametrize("path", ["/api/documents", "/api/documents/", "/gradio_api/upload"])
def test_a_declared_oversized_upload_is_refused_before_it_is_read(path):
    call = Call("POST", path, None, length=300 * 2**20)
    assert call.status == 413 and call.reads == 0 and not call.app_called
    assert call.detail == ("the upload is larger than 2 MiB (DOCCHAT_UPLOAD_MAX_REQUEST_MB); "
                           "nothing was stored")
    assert (b"connection", b"close") in call.sent[0]["headers"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_any_other_body_has_the_smaller_cap(method):
    call = Call(method, "/api/ask", None, length=OTHER_CAP + 1)
    assert call.status == 413 and call.reads == 0 and not call.app_called
    assert call.detail == ("the request body is larger than 64 KiB (DOCCHAT_MAX_BODY_KB); "
                           "it was not read")


@pytest.mark.parametrize("length", ["-1", "1e9", "12, 12", ""])
def test_a_length_that_is_not_a_number_is_refused(length):
    call = Call("POST", "/api/ask", [b"{}"], length=length)
    assert call.status == 413 and not call.app_called


def test_a_body_of_exactly_the_cap_is_let_through_whole():
    body = bytes(range(256)) * (OTHER_CAP // 256)
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]
    for length in (len(body), None):  # declared, and sent without a length
        call = Call("POST", "/api/ask", chunks, length=length)
        assert call.status == 200 and call.app_body == body


def test_a_body_without_a_length_is_cut_off_as_it_passes_the_cap():
    call = Call("POST", "/gradio_api/upload", None)  # an endless chunked body
    assert call.status == 413 and call.app_body is None
    assert call.reads == UPLOAD_CAP // CHUNK + 1  # not one chunk more than needed to know
    assert "nothing was stored" in call.detail
    assert [m["type"] for m in call.sent] == ["http.response.start", "http.response.body"]


def test_a_body_cut_off_after_the_app_answered_gets_no_second_answer():
    async def answers_then_reads(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    call = Call("POST", "/api/ask", None, app=answers_then_reads)
    assert [m["status"] for m in call.sent if m["type"] == "http.response.start"] == [200]


def test_reads_websockets_and_routes_without_a_cap_reach_the_app_untouched():
    big = [b"y" * CHUNK] * (OTHER_CAP // CHUNK + 4)
    for call in (Call("GET", "/api/documents", big, length=300 * 2**20),
                 Call("POST", "/api/ask", big, other_cap=None),
                 Call("POST", "/api/ask", big, length=len(big) * CHUNK, other_cap=None)):
        assert call.status == 200 and call.app_body == b"".join(big)
    ws = Call("GET", "/ws", None, app=lambda s, r, snd: _note(s), scope_type="websocket")
    assert ws.reads == 0 and ws.sent == []


async def _note(scope) -> None:
    assert scope["type"] == "websocket"


def test_a_route_that_parses_the_body_answers_413_not_a_parse_error():
    """TooLarge is an HTTPException: a FastAPI route whose JSON body is cut off answers 413
    with the cap's message, not 400 "error parsing the body"."""
    from fastapi import FastAPI

    api = FastAPI()

    @api.post("/api/ask")
    async def ask(payload: dict) -> dict:
        return {"keys": len(payload)}

    call = Call("POST", "/api/ask", None, app=api)  # JSON that never ends
    assert call.status == 413 and "DOCCHAT_MAX_BODY_KB" in call.detail
    ok = Call("POST", "/api/ask", [b'{"question": ', b'"Who?"}'], app=api)
    assert ok.status == 200
