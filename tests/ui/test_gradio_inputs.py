"""Calls to the page's Gradio API with too few inputs (ui/gradio_inputs.py), driven as ASGI
calls: the optional inputs are padded with their defaults, a call without the required ones
is refused with a 422 that says what the endpoint takes, and Gradio never sees either."""
from __future__ import annotations

import json

import pytest
from asgi_call import AsgiCall, read_body

from ui.gradio_inputs import MAX_BODY, Endpoint, GradioInputs

#: Shaped like the page's "ask" endpoint (ui/page_chat.py ASK_API_INPUTS).
ASK = Endpoint(["question", "history", "k", "engine"], 1, [[], 0, ""])
PAIR = Endpoint(["a", "b", "c"], 2, [7])
#: An endpoint whose check refuses an odd first input.
EVEN = Endpoint(["n", "m"], 1, [0], lambda d: "" if d[0] % 2 == 0 else f"n: {d[0]} is odd")


class Call(AsgiCall):
    """One request through GradioInputs to an app that records the body and headers it got,
    and the next message it hears after the body."""

    def __init__(self, path: str, body: bytes | list[bytes], method: str = "POST",
                 scope_type: str = "http") -> None:
        super().__init__(body if isinstance(body, list) else [body])
        self.seen: dict | None = None
        self.run(GradioInputs(self.app, {"ask": ASK, "pair": PAIR, "even": EVEN}), method, path,
                 sum(map(len, self.chunks)), scope_type)

    async def app(self, scope, receive, send) -> None:
        body = await read_body(receive)
        after = await receive()  # what the app hears next: the client's own messages
        self.seen = {"body": body, "headers": dict(scope["headers"]), "after": after["type"]}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    @property
    def data(self) -> list:
        return json.loads(self.seen["body"])["data"]


def body(data) -> bytes:
    return json.dumps({"data": data}).encode()


@pytest.mark.parametrize("route", ["/gradio_api/run/ask", "/gradio_api/api/ask",
                                   "/gradio_api/call/ask", "/gradio_api/call/ask/"])
def test_a_question_alone_is_padded_with_the_optional_inputs_defaults(route):
    call = Call(route, body(["How many people died?"]))
    assert call.status == 200
    assert call.data == ["How many people died?", [], 0, ""]
    assert int(call.seen["headers"][b"content-length"]) == len(call.seen["body"])


def test_only_the_inputs_left_out_take_defaults_and_the_rest_of_the_call_is_kept():
    sent = {"data": ["Who?", [["Hi", "Hello"]]], "session_hash": "abc123", "fn_index": 3}
    call = Call("/gradio_api/call/ask", json.dumps(sent).encode())
    assert json.loads(call.seen["body"]) == {**sent, "data": ["Who?", [["Hi", "Hello"]], 0, ""]}
    assert Call("/gradio_api/run/pair", body([1, 2])).data == [1, 2, 7]


def test_a_full_call_reaches_the_app_with_its_inputs_and_the_clients_later_messages():
    call = Call("/gradio_api/run/ask", [b'{"data": ["Who?", [], ', b'3, "openai"]}'])
    assert call.data == ["Who?", [], 3, "openai"] and call.reads == 3
    assert call.seen["after"] == "http.disconnect"


@pytest.mark.parametrize("sent, says", [
    (body([]), 'question missing: ask takes {"data": [question, history, k, engine]} '
               '(the first 1 required)'),
    (b"{not json", 'the body is not JSON; ask takes {"data": [question, history, k, engine]}'),
    (b"", 'missing "data" list'),
    (json.dumps({"data": "How many?"}).encode(), 'missing "data" list'),
    (json.dumps(["How many?"]).encode(), 'missing "data" list'),
])
def test_a_call_without_its_required_inputs_is_a_422_saying_what_it_takes(sent, says):
    call = Call("/gradio_api/run/ask", sent)
    assert call.status == 422 and call.seen is None
    assert call.detail.startswith(says), call.detail


def test_an_endpoint_with_several_required_inputs_names_them_all():
    call = Call("/gradio_api/run/pair", body([1]))
    assert call.status == 422
    assert call.detail == 'inputs missing: pair takes {"data": [a, b, c]} (the first 2 required)'


def test_an_oversized_call_is_refused_without_reading_it_all():
    chunk = b" " * (256 * 1024)
    call = Call("/gradio_api/run/ask", [b'{"data": ["q"' + chunk] + [chunk] * 40)
    assert call.status == 422 and "over" in call.detail and call.seen is None
    assert call.reads <= MAX_BODY // len(chunk) + 2


@pytest.mark.parametrize("path, method", [
    ("/gradio_api/run/other", "POST"),  # an endpoint it was not told about
    ("/gradio_api/upload", "POST"), ("/gradio_api/run/ask", "GET"),
    ("/gradio_api/run/ask/extra", "POST"), ("/api/ask", "POST"),
])
def test_other_calls_reach_the_app_as_sent(path, method):
    sent = json.dumps({"data": []}).encode()
    call = Call(path, sent, method=method)
    assert call.status == 200 and call.seen["body"] == sent


def test_a_websocket_passes_through():
    call = Call("/gradio_api/run/ask", b"", scope_type="websocket")
    assert call.status == 200 and call.seen["body"] == b""


def test_the_endpoints_check_sees_the_padded_inputs_and_its_reason_is_the_422():
    assert Call("/gradio_api/run/even", body([4])).data == [4, 0]
    call = Call("/gradio_api/run/even", body([3]))
    assert call.status == 422 and call.detail == "n: 3 is odd" and call.seen is None


def test_more_inputs_than_the_endpoint_takes_is_a_422():
    call = Call("/gradio_api/run/pair", body([1, 2, 3, 4]))
    assert call.status == 422 and call.seen is None
    assert call.detail == '4 inputs, at most 3: pair takes {"data": [a, b, c]}'
