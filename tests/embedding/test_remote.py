"""rag/embedding/remote.py: RemoteEmbedder against a scripted OpenAI-compatible embeddings
server on 127.0.0.1 (no model: the server answers the vectors each test gives it). What is
sent, batching, retries and which answers are retried, malformed replies, one-line errors.

The same class against a real server (tests/embed_server.py, the packaged MiniLM) is in
test_remote_embeddings.py.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import numpy as np
import pytest
from embed_server import free_port

from rag.embedding.remote import MAX_RETRY_AFTER, RemoteEmbedder
from rag.errors import EmbeddingError
from rag.settings import Settings

FAST_RETRY = {"embed_retries": 3, "embed_backoff": 0.01}


class Scripted:
    """Answers POST /v1/embeddings from ``script``: one entry a request, the last repeated.
    An entry is (status, body, headers) or a callable(request_json) -> that tuple, or
    "close" (drop the connection without answering). Records each request's JSON and headers."""

    def __init__(self) -> None:
        self.script: list = []
        self.seen: list[dict] = []
        self.headers: list[dict] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                n = len(me.seen)
                me.seen.append(body)
                me.headers.append(dict(self.headers))
                entry = me.script[min(n, len(me.script) - 1)]
                if entry == "close":
                    self.close_connection = True
                    return
                if callable(entry):
                    entry = entry(body)
                status, payload, headers = entry
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def vectors_of(body: dict, dim: int = 4, reverse: bool = True) -> tuple[int, dict, dict]:
    """An OpenAI embeddings answer: text i's vector is (i+1) * e_(i mod dim) + 0.5; listed
    backwards, as some servers do (only "index" says which is which)."""
    rows = []
    for i, _ in enumerate(body["input"]):
        v = [0.5] * dim
        v[i % dim] += i + 1
        rows.append({"object": "embedding", "embedding": v, "index": i})
    return 200, {"object": "list", "data": rows[::-1] if reverse else rows}, {}


def want_vectors(n: int, dim: int = 4) -> np.ndarray:
    out = np.full((n, dim), 0.5, np.float32)
    for i in range(n):
        out[i, i % dim] += i + 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    t = threading.Thread(target=s.httpd.serve_forever, args=(0.02,), daemon=True)
    t.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def embedder(url: str, **kw) -> RemoteEmbedder:
    return RemoteEmbedder(Settings(embed_url=url, **{**FAST_RETRY, **kw}))


def error_of(emb: RemoteEmbedder, texts=("a question",)) -> str:
    with pytest.raises(EmbeddingError) as err:
        emb.encode(list(texts))
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# -- moved from test_remote_embeddings.py ------------------------------------------------------

def test_nothing_listening_is_unreachable_not_a_traceback():
    url = f"http://127.0.0.1:{free_port()}/v1"
    emb = RemoteEmbedder(Settings(embed_url=url, embed_retries=1, embed_backoff=0.01))
    with pytest.raises(EmbeddingError, match=rf"^embedding server at {url} unreachable: .+"
                                             r" \(2 attempts\)$"):
        emb.encode(["a question"])


# -- what is sent, and the vectors back ----------------------------------------------------------

def test_batches_in_order_with_model_and_key_and_unit_vectors_by_index(server: Scripted):
    server.script = [vectors_of]
    emb = embedder(server.url + "/", embed_batch=2, embed_model="bge-small",
                   embed_api_key="tok")
    seen: list[tuple[int, int]] = []
    texts = [f"text {i}" for i in range(5)]
    got = emb.encode(texts, on_batch=lambda done, total: seen.append((done, total)))
    assert [b["input"] for b in server.seen] == [texts[0:2], texts[2:4], texts[4:5]]
    assert {b["model"] for b in server.seen} == {"bge-small"}
    assert {h["Authorization"] for h in server.headers} == {"Bearer tok"}
    assert seen == [(2, 5), (4, 5), (5, 5)] and emb.requests == 3
    # each batch is numbered from 0 by the server: rows 0-1, 0-1, 0
    want = want_vectors(2)
    np.testing.assert_allclose(got, np.concatenate([want, want, want[:1]]), atol=1e-6)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    assert emb.dim == 4 and len(server.seen) == 3  # known from the answers: no probe


def test_no_key_sends_no_authorization_and_an_empty_list_asks_the_size_once(server: Scripted):
    server.script = [lambda body: vectors_of(body, dim=6)]
    emb = embedder(server.url)
    assert emb.encode([]).shape == (0, 6)
    assert emb.encode([]).shape == (0, 6)
    assert len(server.seen) == 1 and "Authorization" not in server.headers[0]


# -- retries ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_retried_then_answered(server: Scripted, status: int):
    server.script = [(status, {"error": "busy"}, {}), (status, {"error": "busy"}, {}),
                     vectors_of]
    emb = embedder(server.url)
    np.testing.assert_allclose(emb.encode(["a", "b"]), want_vectors(2), atol=1e-6)
    assert emb.requests == len(server.seen) == 3
    assert server.seen[0] == server.seen[2]  # the same request again


def test_a_dropped_connection_is_retried(server: Scripted):
    server.script = ["close", vectors_of]
    emb = embedder(server.url)
    assert emb.encode(["a"]).shape == (1, 4) and len(server.seen) == 2


@pytest.mark.parametrize("status", [400, 401, 413, 422])
def test_other_4xx_are_not_retried_and_quote_the_server(server: Scripted, status: int):
    server.script = [(status, {"error": {"message": "input too\nlong", "type": "x"}}, {})]
    msg = error_of(embedder(server.url))
    assert msg == (f"embedding server at {server.url} refused the request: HTTP {status}: "
                   "input too long")
    assert len(server.seen) == 1


@pytest.mark.parametrize("status", [404, 405])
def test_a_404_or_405_hints_at_the_api_base(server: Scripted, status: int):
    server.script = [(status, {"detail": "Not Found"}, {})]
    msg = error_of(embedder(server.url))
    assert f"HTTP {status}: Not Found (DOCCHAT_EMBED_URL is the API base" in msg


def test_the_last_failure_is_reported_with_the_attempts(server: Scripted):
    page = b"<html>\n<body>\n<h1>502 Bad Gateway</h1>\n</body>\n</html>\n"
    server.script = [(502, page, {})]
    msg = error_of(embedder(server.url, embed_retries=2))
    assert msg == (f"embedding server at {server.url} failed: HTTP 502: <html> <body> "
                   "<h1>502 Bad Gateway</h1> </body> </html> (3 attempts)")
    assert len(server.seen) == 3


def test_no_retries_means_one_request(server: Scripted):
    server.script = [(503, {}, {})]
    msg = error_of(embedder(server.url, embed_retries=0))
    assert msg.endswith("HTTP 503 (1 attempts)") and len(server.seen) == 1


def test_retry_after_is_honoured_over_a_shorter_backoff(server: Scripted):
    server.script = [(429, {}, {"Retry-After": "0.4"}), vectors_of]
    emb = embedder(server.url, embed_backoff=0.01)
    t0 = time.monotonic()
    emb.encode(["a"])
    assert 0.4 <= time.monotonic() - t0 < 2


def test_a_huge_retry_after_is_capped(server: Scripted, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("rag.embedding.remote.time.sleep", slept.append)
    server.script = [(503, {}, {"Retry-After": "86400"}),
                     (503, {}, {"Retry-After": "Wed, 21 Oct 2065 07:28:00 GMT"}), vectors_of]
    embedder(server.url, embed_backoff=0.5).encode(["a"])
    assert slept == [MAX_RETRY_AFTER, 1.0]  # capped; an HTTP date keeps the backoff (0.5*2)


def test_a_server_slower_than_the_timeout_is_retried_then_reported(server: Scripted):
    def slow(body: dict):
        time.sleep(1.0)
        return vectors_of(body)

    server.script = [slow]
    t0 = time.monotonic()
    msg = error_of(embedder(server.url, embed_timeout=0.3, embed_retries=1))
    assert time.monotonic() - t0 < 2
    assert msg == (f"embedding server at {server.url} unreachable: no answer in time "
                   "(ReadTimeout) (2 attempts)")


# -- malformed answers: one line, never a traceback or wrong vectors ------------------------------

@pytest.mark.parametrize("payload, n", [
    (b"not json at all", 1),
    ([[0.1, 0.2]], 1),                                         # a bare list
    ({"embeddings": [[0.1, 0.2]]}, 1),                         # another protocol
    ({"data": [{"embedding": [0.1, 0.2]}]}, 1),                # no index
    ({"data": [{"embedding": None, "index": 0}]}, 1),
    ({"data": [{"embedding": ["a", "b"], "index": 0}]}, 1),
    ({"data": [{"embedding": [0.1, 0.2], "index": 0}, {"embedding": [0.1], "index": 1}]}, 2),
    ({"data": "nope"}, 1),
])
def test_an_answer_that_is_not_openai_embeddings_is_one_line(server: Scripted, payload, n):
    server.script = [(200, payload, {})]
    msg = error_of(embedder(server.url), texts=[f"t{i}" for i in range(n)])
    assert msg.startswith(f"embedding server at {server.url} answered")
    assert len(server.seen) == 1  # a wrong answer is not retried


@pytest.mark.parametrize("rows, n, why", [
    ([[1.0, 0.0]], 2, "answered 1 vectors for 2 texts"),
    ([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 2, "answered 3 vectors for 2 texts"),
    ([[]], 1, "answered 1 vectors for 1 texts"),
    ([[0.0, 0.0]], 1, "a zero or non-finite vector"),
])
def test_wrong_counts_empty_and_zero_vectors_are_refused(server: Scripted, rows, n, why):
    data = [{"embedding": r, "index": i} for i, r in enumerate(rows)]
    server.script = [(200, {"data": data}, {})]
    assert why in error_of(embedder(server.url), texts=[f"t{i}" for i in range(n)])


def test_non_finite_numbers_are_refused(server: Scripted):
    server.script = [(200, b'{"data": [{"embedding": [1.0, NaN], "index": 0}]}', {})]
    assert "a zero or non-finite vector" in error_of(embedder(server.url))


def test_repeated_indexes_are_refused_not_taken_as_other_texts_vectors(server: Scripted):
    data = [{"embedding": [1.0, 0.0], "index": 0}, {"embedding": [0.0, 1.0], "index": 0}]
    server.script = [(200, {"data": data}, {})]
    msg = error_of(embedder(server.url), texts=["a", "b"])
    assert msg.startswith(f"embedding server at {server.url} answered")


def test_a_change_of_vector_size_between_batches_is_refused(server: Scripted):
    sizes = iter([4, 8])
    server.script = [lambda body: vectors_of(body, dim=next(sizes))]
    msg = error_of(embedder(server.url, embed_batch=1), texts=["a", "b"])
    assert msg == f"embedding server at {server.url} changed its vector size from 4 to 8"
