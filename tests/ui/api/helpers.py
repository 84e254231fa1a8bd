"""Calls the API tests make on a running `docchat serve` (plain httpx, as a client program
would), and the upload cap of the server they share (tests/ui/api/conftest.py)."""
from __future__ import annotations

import re

import httpx

MAX_MB = 0.25  # a small upload cap for the server under test


def ask(base: str, question: str, **extra) -> dict:
    r = httpx.post(f"{base}/api/ask", json={"question": question, **extra}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def assert_cited(answer: dict) -> None:
    """Every [n] refers to a listed source, every sentence cites one, numbering is 1..n."""
    numbers = {s["n"] for s in answer["sources"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers and markers <= numbers
    assert all(s["citations"] and s["supported"] for s in answer["sentences"])
    assert sorted(numbers) == list(range(1, len(numbers) + 1))


def upload(base: str, name: str, data: bytes, mime: str = "text/markdown") -> httpx.Response:
    return httpx.post(f"{base}/api/documents", files=[("files", (name, data, mime))],
                      timeout=180)


def documents(base: str) -> dict[str, dict]:
    r = httpx.get(f"{base}/api/documents")
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()}
