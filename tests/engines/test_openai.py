"""rag/engines/openai.py: the engine against a fake OpenAI-compatible server on 127.0.0.1 (what
is sent, how replies are read) and against servers that fail (one clear line, quickly).

The engine against a real llama.cpp server is in test_engines.py (it needs the packaged model).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import numpy as np
import pytest

from rag.answering.evidence import Evidence
from rag.engines.openai import OpenAIEngine
from rag.errors import EngineError
from rag.settings import Settings
from rag.types import Hit
from server import free_port

QUESTION = "What colour is the moon of Zorblax?"
TEXT = "The planet Zorblax has a single moon called Pim. The moon Pim is bright green."
EVIDENCE = Evidence(QUESTION, (Hit(chunk_id=1, path="/docs/zorblax.txt", page=1, start=0,
                                   end=len(TEXT), text=TEXT, score=0.9),),
                    (), np.zeros((0, 384), np.float32), np.zeros(0), np.zeros(0), encode=None)


def settings_for(base_url: str, **kw) -> Settings:
    return Settings(engine="openai", openai_base_url=base_url, llm_max_tokens=48, **kw)


# -- a fake OpenAI-compatible server ----------------------------------------------------------

Reply = Callable[[BaseHTTPRequestHandler], None]


class FakeServer:
    """Records every request (method, path, headers, JSON body); answers with ``routes``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.routes: dict[str, Reply] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers),
                                      "json": json.loads(raw) if raw else None})
                route = fake.routes.get(self.path)
                if route is None:
                    send(self, 404, "application/json", b'{"error": "no route"}')
                else:
                    route(self)

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]


def send(h: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def sse(*events: object, done: bool = True) -> Reply:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    body = "".join(lines).encode()
    return lambda h: send(h, 200, "text/event-stream", body)


def delta(text: str) -> dict:
    return {"choices": [{"delta": {"content": text}}]}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung or blackholed backend)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    t.join()
    for conn in held:
        conn.close()
    listener.close()


def draft_error(engine: OpenAIEngine) -> str:
    with pytest.raises(EngineError) as err:
        list(engine.draft(QUESTION, EVIDENCE))
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# -- failures: clear and fast (moved from test_engines.py) -----------------------------------

def test_unreachable_server_raises_an_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there any more
    engine = OpenAIEngine(settings_for(url, openai_model="m", openai_timeout=2))
    t0 = time.monotonic()
    with pytest.raises(EngineError) as err:
        list(engine.draft(QUESTION, EVIDENCE))
    assert time.monotonic() - t0 < 5
    msg = str(err.value)
    assert url in msg and "connection refused" in msg and "\n" not in msg


def test_unknown_host_raises_an_error_naming_the_url():
    url = "http://no-such-host.invalid:8000/v1"
    engine = OpenAIEngine(settings_for(url, openai_model="m", openai_timeout=2))
    with pytest.raises(EngineError, match=r"cannot reach .*no-such-host\.invalid"):
        list(engine.draft(QUESTION, EVIDENCE))


@pytest.mark.parametrize("model", ["m", ""])  # chat request / model discovery
def test_a_server_that_never_answers_fails_within_the_timeout(silent_server: str, model: str):
    engine = OpenAIEngine(settings_for(silent_server, openai_model=model, openai_timeout=2))
    t0 = time.monotonic()
    with pytest.raises(EngineError) as err:
        list(engine.draft(QUESTION, EVIDENCE))
    elapsed = time.monotonic() - t0
    assert elapsed < 10, f"took {elapsed:.1f}s with openai_timeout=2"
    assert silent_server in str(err.value) and "did not answer within 2s" in str(err.value)


# -- what is sent ------------------------------------------------------------------------------

def test_the_request_carries_model_messages_limits_and_the_api_key(fake: FakeServer):
    fake.routes["/v1/chat/completions"] = sse(delta("Pim is "), delta("green [1]."))
    engine = OpenAIEngine(settings_for(fake.url + "/", openai_model="qwen", openai_api_key="s3"))
    history = [("Where is Zorblax?", "Far away [1].")]
    assert "".join(engine.draft(QUESTION, EVIDENCE, history)) == "Pim is green [1]."
    (req,) = fake.posts()
    assert req["path"] == "/v1/chat/completions"  # the trailing slash of the URL is dropped
    assert req["headers"]["Authorization"] == "Bearer s3"
    body = req["json"]
    assert (body["model"], body["stream"], body["temperature"], body["max_tokens"]) == \
        ("qwen", True, 0, 48)
    sent = json.dumps(body["messages"])
    assert QUESTION in sent and "bright green" in sent and "Where is Zorblax?" in sent


def test_no_api_key_sends_no_authorization_header(fake: FakeServer):
    fake.routes["/v1/chat/completions"] = sse(delta("ok"))
    list(OpenAIEngine(settings_for(fake.url, openai_model="m")).draft(QUESTION, EVIDENCE))
    assert "Authorization" not in fake.posts()[0]["headers"]


def test_without_a_model_the_first_listed_one_is_used_and_asked_for_once(fake: FakeServer):
    fake.routes["/v1/models"] = lambda h: send(
        h, 200, "application/json", b'{"data": [{"id": "llama-3"}, {"id": "other"}]}')
    fake.routes["/v1/chat/completions"] = sse(delta("ok"))
    engine = OpenAIEngine(settings_for(fake.url))
    list(engine.draft(QUESTION, EVIDENCE))
    list(engine.draft(QUESTION, EVIDENCE))
    assert [p["json"]["model"] for p in fake.posts()] == ["llama-3", "llama-3"]
    assert [r["path"] for r in fake.requests].count("/v1/models") == 1


@pytest.mark.parametrize("listing", [b'{"data": []}', b'{"data": [{"id": ""}]}', b"{}",
                                     b'{"data": null}'])
def test_a_server_that_lists_no_models_asks_for_the_setting(fake: FakeServer, listing: bytes):
    fake.routes["/v1/models"] = lambda h: send(h, 200, "application/json", listing)
    msg = draft_error(OpenAIEngine(settings_for(fake.url)))
    assert "lists no models" in msg and "DOCCHAT_OPENAI_MODEL" in msg and fake.url in msg
    assert not fake.posts()


# -- how replies are read ------------------------------------------------------------------------

def test_sse_comments_blank_lines_and_empty_deltas_are_skipped(fake: FakeServer):
    body = (b": ping\n\nevent: message\ndata: " + json.dumps(delta("a")).encode() + b"\n\n"
            b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\n'
            b'data: {"choices": []}\n\n'
            b"data: " + json.dumps(delta("b")).encode() + b"\n\ndata: [DONE]\n\n"
            b"data: " + json.dumps(delta("after done")).encode() + b"\n\n")
    fake.routes["/v1/chat/completions"] = lambda h: send(h, 200, "text/event-stream", body)
    pieces = list(OpenAIEngine(settings_for(fake.url, openai_model="m")).draft(QUESTION,
                                                                                EVIDENCE))
    assert "".join(pieces) == "ab"


def test_a_server_that_ignores_stream_and_sends_one_json_answer_is_read(fake: FakeServer):
    body = json.dumps({"choices": [{"message": {"content": "Pim is green [1]."}}]}).encode()
    fake.routes["/v1/chat/completions"] = lambda h: send(h, 200, "application/json", body)
    engine = OpenAIEngine(settings_for(fake.url, openai_model="m"))
    assert "".join(engine.draft(QUESTION, EVIDENCE)) == "Pim is green [1]."


def test_a_stream_that_ends_without_done_keeps_what_came(fake: FakeServer):
    fake.routes["/v1/chat/completions"] = sse(delta("Pim "), delta("is green."), done=False)
    engine = OpenAIEngine(settings_for(fake.url, openai_model="m"))
    assert "".join(engine.draft(QUESTION, EVIDENCE)) == "Pim is green."


def test_invalid_json_in_the_stream_is_one_line_naming_the_server(fake: FakeServer):
    fake.routes["/v1/chat/completions"] = sse(delta("Pim "), "{not json")
    msg = draft_error(OpenAIEngine(settings_for(fake.url, openai_model="m")))
    assert fake.url in msg and "invalid JSON" in msg and "{not json" in msg


def test_an_error_event_in_the_stream_gives_the_servers_message(fake: FakeServer):
    fake.routes["/v1/chat/completions"] = sse(
        delta("Pim "), {"error": {"message": "context length\nexceeded", "code": 400}})
    msg = draft_error(OpenAIEngine(settings_for(fake.url, openai_model="m")))
    assert fake.url in msg and "failed: context length exceeded" in msg


@pytest.mark.parametrize("status,hint", [(401, True), (403, True), (500, False)])
def test_http_errors_name_status_path_and_the_servers_message(fake: FakeServer, status: int,
                                                              hint: bool):
    body = json.dumps({"error": {"message": "invalid api key"}}).encode()
    fake.routes["/v1/chat/completions"] = lambda h: send(h, status, "application/json", body)
    msg = draft_error(OpenAIEngine(settings_for(fake.url, openai_model="m")))
    assert f"HTTP {status} for /v1/chat/completions: invalid api key" in msg
    assert ("DOCCHAT_OPENAI_API_KEY" in msg) is hint


def test_an_html_error_page_from_a_proxy_is_still_one_line(fake: FakeServer):
    page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" \
           b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
    fake.routes["/v1/chat/completions"] = lambda h: send(h, 502, "text/html", page)
    msg = draft_error(OpenAIEngine(settings_for(fake.url, openai_model="m")))
    assert "HTTP 502" in msg and "502 Bad Gateway" in msg


def test_a_stream_that_stalls_midway_fails_within_the_timeout(fake: FakeServer):
    gate = threading.Event()

    def stall(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(f"data: {json.dumps(delta('Pim '))}\n\n".encode())
        h.wfile.flush()
        gate.wait(10)

    fake.routes["/v1/chat/completions"] = stall
    engine = OpenAIEngine(settings_for(fake.url, openai_model="m", openai_timeout=1))
    got: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(EngineError, match=r"did not answer within 1s"):
        for piece in engine.draft(QUESTION, EVIDENCE):
            got.append(piece)
    gate.set()
    assert time.monotonic() - t0 < 5
    assert "".join(got) == "Pim "


def test_a_connection_closed_midway_is_named(fake: FakeServer):
    def cut(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(f"data: {json.dumps(delta('Pim '))}\n\n".encode())
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    fake.routes["/v1/chat/completions"] = cut
    msg = draft_error(OpenAIEngine(settings_for(fake.url, openai_model="m")))
    assert fake.url in msg and "closed the connection" in msg


def test_an_invalid_base_url_is_one_line():
    msg = draft_error(OpenAIEngine(settings_for("ftp://127.0.0.1/v1", openai_model="m")))
    assert "invalid OpenAI-compatible server URL 'ftp://127.0.0.1/v1'" in msg
