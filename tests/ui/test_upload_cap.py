"""An oversized upload request is refused early, through a real server: from its
Content-Length before the body is read, and a chunked body is cut off at the cap; nothing is
stored either way."""
from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import httpx
import pytest
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
CAP_MB = 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("cap")
    with running_server(work, env={"DOCCHAT_UPLOAD_MAX_REQUEST_MB": str(CAP_MB)}) as (base, _):
        yield base, work


def stored(work: Path) -> set[str]:
    uploads = {p.name for p in (work / "uploads").glob("*")} if (work / "uploads").exists() \
        else set()
    temps = {p.name for p in Path(tempfile.gettempdir()).glob("tmp*")}
    return uploads | temps


@pytest.mark.parametrize("route", ["/api/documents", "/gradio_api/upload"])
def test_a_declared_oversized_body_is_refused_before_it_is_read(served, route):
    base, work = served
    before = stored(work)
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall((f"POST {route} HTTP/1.1\r\nHost: {host}\r\n"
                   "Content-Type: multipart/form-data; boundary=x\r\n"
                   f"Content-Length: {300 * 2**20}\r\n\r\n").encode() + b"--x\r\n")
        reply = b""  # answered (and closed) with 299.99 MB still unsent
        while chunk := s.recv(4096):
            reply += chunk
    reply = reply.decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply
    assert "DOCCHAT_UPLOAD_MAX_REQUEST_MB" in reply
    assert stored(work) == before


def test_a_chunked_body_past_the_cap_is_cut_off_and_nothing_stored(served):
    base, work = served
    before = stored(work)
    head = (b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n")

    def body():
        yield head
        for _ in range(CAP_MB * 4):  # twice the cap, 512 KiB at a time
            yield b"flood " * (2**19 // 6)

    r = httpx.post(f"{base}/api/documents", content=body(), timeout=60,
                   headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413, r.text
    assert stored(work) == before
    assert "big.txt" not in {d["name"] for d in httpx.get(f"{base}/api/documents").json()}


def test_an_upload_under_the_cap_still_works(served):
    base, _ = served
    r = httpx.post(f"{base}/api/documents", timeout=120,
                   files=[("files", ("tide.md", b"# Tide\n\nThe tide rose 4.2 metres.\n",
                                     "text/markdown"))])
    assert r.status_code == 200, r.text
