"""Embeddings from any OpenAI-compatible ``POST {base}/embeddings`` server.

text-embeddings-inference, vLLM, Ollama, Infinity and OpenAI all speak it: a JSON body
``{"input": [texts], "model": id}`` answered by ``{"data": [{"embedding": [...], "index": i}]}``.
Texts go in batches of ``embed_batch``; a connection error, a timeout, HTTP 429 or 5xx is
retried with exponential backoff (``embed_retries``, ``embed_backoff``), any other 4xx is not
(the request itself is wrong). Every failure is one EmbeddingError line naming the server.
Vectors are normalised here, as the local model's are, whatever the server does.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import httpx
import numpy as np

from rag.errors import EmbeddingError
from rag.settings import Settings

log = logging.getLogger(__name__)

#: Prefix of the model id recorded in the index manifest for a remote model.
MODEL_ID_PREFIX = "openai:"
#: A Retry-After header asking for longer than this is not honoured in full (seconds).
MAX_RETRY_AFTER = 30.0
#: Most characters of a server's error message quoted in an EmbeddingError.
MAX_ERROR_CHARS = 200
CONNECT_TIMEOUT = 5.0  # seconds; a live server accepts far faster than this


def model_id(settings: Settings) -> str:
    """The id an index built through ``settings.embed_url`` records: 'openai:HOST[:PORT]/PATH/
    MODEL'. The server is part of it: docchat cannot tell whether two servers that call their
    model by the same name (vLLM's --served-model-name, an Ollama tag pulled again) give the
    same vectors, and mixed vectors would degrade retrieval silently; a re-embed costs time."""
    parts = urlsplit(settings.embed_url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{MODEL_ID_PREFIX}{host}{parts.path.rstrip('/')}/{settings.embed_model}"


class RemoteEmbedder:
    """Unit vectors from an OpenAI-compatible embedding server; thread-safe (one HTTP client
    with a connection pool; concurrent calls are concurrent requests, the server queues them)."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.embed_url.rstrip("/")
        self.url = f"{self.base_url}/embeddings"
        self.model = settings.embed_model
        self.name = model_id(settings)
        self.batch_size = settings.embed_batch
        self.retries = settings.embed_retries
        self.backoff = settings.embed_backoff
        headers = {"Accept": "application/json"}
        if settings.embed_api_key:
            headers["Authorization"] = f"Bearer {settings.embed_api_key}"
        t = float(settings.embed_timeout)
        self._client = httpx.Client(timeout=httpx.Timeout(t, connect=min(CONNECT_TIMEOUT, t)),
                                    headers=headers)
        self._dim: int | None = None
        self._dim_lock = threading.Lock()
        self.requests = 0  # requests sent, retries included (for tests and benchmarks)

    @property
    def dim(self) -> int:
        """The server's vector size (one small request the first time it is asked)."""
        with self._dim_lock:
            if self._dim is None:
                self._dim = int(self._request(["dimension probe"]).shape[1])
            return self._dim

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int, int], None] | None = None,
               background: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``, one request per batch; ``on_batch(done, total)`` after
        each. ``background`` is accepted for the local embedder's interface: the server, not
        this process, schedules concurrent requests."""
        del background
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        bar = _bar(len(texts)) if progress else None
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            parts.append(self._request(batch))
            if bar is not None:
                bar.update(len(batch))
            if on_batch is not None:
                on_batch(start + len(batch), len(texts))
        if bar is not None:
            bar.close()
        out = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        with self._dim_lock:
            self._dim = self._dim or out.shape[1]
        return out

    def warm_up(self) -> None:
        """Nothing to load here: the server holds the model."""

    def close(self) -> None:
        self._client.close()

    # -- HTTP ---------------------------------------------------------------------------

    def _request(self, batch: list[str]) -> np.ndarray:
        payload = {"input": batch, "model": self.model}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.requests += 1
            try:
                resp = self._client.post(self.url, json=payload)
            except httpx.InvalidURL as exc:
                raise EmbeddingError(f"embedding server URL {self.base_url} is invalid: "
                                     f"{exc}") from exc
            except httpx.TransportError as exc:  # refused, reset, DNS, timeout
                if last:
                    raise EmbeddingError(
                        f"embedding server at {self.base_url} unreachable: {_reason(exc)} "
                        f"({attempt + 1} attempts)") from exc
                self._wait(attempt, None, _reason(exc))
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                if last:
                    raise EmbeddingError(
                        f"embedding server at {self.base_url} failed: HTTP {resp.status_code}"
                        f"{_detail(resp)} ({attempt + 1} attempts)")
                self._wait(attempt, resp.headers.get("retry-after"),
                           f"HTTP {resp.status_code}")
                continue
            if resp.status_code >= 400:
                hint = (" (DOCCHAT_EMBED_URL is the API base, e.g. http://host:8080/v1)"
                        if resp.status_code in (404, 405) else "")
                raise EmbeddingError(
                    f"embedding server at {self.base_url} refused the request: HTTP "
                    f"{resp.status_code}{_detail(resp)}{hint}")
            return self._vectors(resp, len(batch))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _wait(self, attempt: int, retry_after: str | None, why: str) -> None:
        pause = self.backoff * 2 ** attempt
        if retry_after:
            try:
                pause = max(pause, min(float(retry_after), MAX_RETRY_AFTER))
            except ValueError:
                pass  # an HTTP date: keep the exponential pause
        log.info("embedding server at %s: %s; retrying in %.1f s", self.base_url, why, pause)
        time.sleep(pause)

    def _vectors(self, resp: httpx.Response, n: int) -> np.ndarray:
        try:
            body = resp.json()
            rows = sorted(body["data"], key=lambda r: r["index"])
            if len({r["index"] for r in rows}) != len(rows):
                raise ValueError("an index given twice")
            vecs = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embedding server at {self.base_url} answered something "
                                 f"that is not OpenAI embeddings: {_short(resp.text)!r}") from exc
        if vecs.ndim != 2 or vecs.shape[0] != n or vecs.shape[1] == 0:
            raise EmbeddingError(f"embedding server at {self.base_url} answered "
                                 f"{vecs.shape[0] if vecs.ndim else 0} vectors for {n} texts")
        if self._dim is not None and vecs.shape[1] != self._dim:
            raise EmbeddingError(f"embedding server at {self.base_url} changed its vector size "
                                 f"from {self._dim} to {vecs.shape[1]}")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise EmbeddingError(f"embedding server at {self.base_url} answered a zero or "
                                 "non-finite vector")
        if self._dim is None:
            self._dim = vecs.shape[1]  # the next batches must match it
        return vecs / norms


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _detail(resp: httpx.Response) -> str:
    """': <the server's message>' from an OpenAI/TEI/FastAPI error body, or ''."""
    try:
        body: Any = resp.json()
    except ValueError:
        return f": {_short(resp.text)}" if resp.text.strip() else ""
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return f": {_short(str(err))}"
    return ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding")
