"""LLM engines against real parts: a real llama.cpp OpenAI-compatible server in a subprocess
and the in-process llama.cpp engine on the packaged SmolLM2 GGUF. The 135M model's wording is
not asserted, only what a user relies on: a non-empty streamed draft, and HTTP errors that
name the server. The openai engine's failure cases (real sockets, no model) are in
test_openai.py."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest

from rag.engines import get_engine
from rag.engines.openai import OpenAIEngine
from rag.errors import EngineError
from rag.answering.evidence import Evidence
from rag.settings import Settings
from rag.types import Hit
from server import free_port

pytestmark = pytest.mark.slow

SERVER_START_TIMEOUT = 120.0
QUESTION = "What colour is the moon of Zorblax?"
TEXTS = (
    "The planet Zorblax has a single moon called Pim. The moon Pim is bright green.",
    "Zorblax orbits a red dwarf star. A year on Zorblax lasts 40 days.",
)


def hit(n: int, text: str) -> Hit:
    return Hit(chunk_id=n, path=f"/docs/zorblax-{n}.txt", page=n, start=0, end=len(text),
               text=text, score=0.9)


PASSAGES = [hit(i + 1, t) for i, t in enumerate(TEXTS)]


# The LLM engines read only the evidence's passages; its sentence vectors and scores (which
# need the embedding model) are left empty here.
EVIDENCE = Evidence(QUESTION, tuple(PASSAGES), (), np.zeros((0, 384), np.float32),
                    np.zeros(0), np.zeros(0), encode=None)


def require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        msg = "llama-cpp-python is not installed (make llamacpp)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " -- required in CI")
        pytest.skip(msg)


def wait_until_ready(proc: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama_cpp.server not ready after {SERVER_START_TIMEOUT:g}s:\n"
                f"{log.read_text()}")


@pytest.fixture(scope="module")
def gguf() -> Path:
    require_llama_cpp()
    from rag.engines.llamacpp import packaged_model

    return packaged_model()


@pytest.fixture(scope="module")
def server_url(gguf: Path, tmp_path_factory) -> Iterator[str]:
    """A real OpenAI-compatible server: llama_cpp.server on the packaged SmolLM2."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(proc, base_url, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def settings_for(base_url: str, **kw) -> Settings:
    return Settings(engine="openai", openai_base_url=base_url, llm_max_tokens=48, **kw)


# -- openai engine against a real server ----------------------------------------------------

def test_openai_engine_streams_a_draft_from_a_real_server(server_url: str):
    engine = get_engine("openai", settings_for(server_url))
    assert isinstance(engine, OpenAIEngine) and engine.name == "openai"
    pieces = list(engine.draft(QUESTION, EVIDENCE, [("Where is Zorblax?", "Far away [2].")]))
    assert len(pieces) > 1, pieces  # streamed, not one block at the end
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()
    assert engine.model()  # discovered from /v1/models: no model name was configured


def test_openai_engine_names_the_server_on_http_errors(server_url: str):
    engine = OpenAIEngine(settings_for(server_url.removesuffix("/v1") + "/nope"))
    with pytest.raises(EngineError, match=r"/nope.*HTTP 404"):
        list(engine.draft(QUESTION, EVIDENCE))


# -- llamacpp engine in process -------------------------------------------------------------

def test_llamacpp_engine_drafts_in_process_and_loads_once(gguf: Path):
    settings = Settings(engine="llamacpp", llm_max_tokens=48)
    engine = get_engine("llamacpp", settings)
    assert engine.name == "llamacpp"
    assert get_engine("llamacpp", settings) is engine  # the model is loaded once per process
    pieces = list(engine.draft(QUESTION, EVIDENCE))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_llamacpp_engine_serializes_concurrent_drafts(gguf: Path):
    engine = get_engine("llamacpp", Settings(engine="llamacpp", llm_max_tokens=16))
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append("".join(engine.draft(QUESTION, EVIDENCE)))
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 2 and all(r.strip() for r in results)


def test_missing_gguf_is_a_clear_engine_error(tmp_path: Path):
    require_llama_cpp()
    missing = tmp_path / "nope.gguf"
    with pytest.raises(EngineError, match="GGUF model not found"):
        get_engine("llamacpp", Settings(llamacpp_model=str(missing)))
