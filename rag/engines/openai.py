"""Engine for any OpenAI-compatible chat server (Ollama, vLLM, llama.cpp server, LM Studio).

Streams ``POST {base_url}/chat/completions`` with httpx. Every failure becomes one EngineError
line naming the server URL, and no request waits longer than ``openai_timeout`` for a byte.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator, Sequence

import httpx

from rag.engines.prompt import build_messages, drop_think, stop_loops
from rag.errors import EngineError
from rag.settings import Settings
from rag.answering.evidence import Evidence

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds; a live local server accepts far faster than this


class OpenAIEngine:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = settings.openai_base_url.rstrip("/")
        self._model = settings.openai_model

    def draft(self, question: str, evidence: Evidence,
              history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        payload = {
            "model": self.model(),
            "messages": build_messages(question, evidence.hits, history),
            "stream": True,
            "temperature": 0,
            "max_tokens": self.settings.llm_max_tokens,
        }
        yield from stop_loops(drop_think(
            self._stream(f"{self.base_url}/chat/completions", payload)))

    def model(self) -> str:
        """The configured model, else the first one the server lists."""
        if not self._model:
            data = self._get_json(f"{self.base_url}/models")
            ids = [m.get("id") for m in data.get("data") or [] if isinstance(m, dict)]
            if not ids or not ids[0]:
                raise EngineError(f"the OpenAI-compatible server at {self.base_url} lists no "
                                  "models; set DOCCHAT_OPENAI_MODEL")
            self._model = str(ids[0])
            log.info("using model %s from %s/models", self._model, self.base_url)
        return self._model

    # -- HTTP ---------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        t = float(self.settings.openai_timeout)
        headers = {"Accept": "application/json"}
        if self.settings.openai_api_key:
            headers["Authorization"] = f"Bearer {self.settings.openai_api_key}"
        return httpx.Client(timeout=httpx.Timeout(t, connect=min(CONNECT_TIMEOUT, t)),
                            headers=headers)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self._client() as client:
                resp = client.get(url)
                _check_status(resp, self.base_url)
                return _loads(resp.text, self.base_url)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise EngineError(_describe(exc, self.base_url, self.settings.openai_timeout)) from exc

    def _stream(self, url: str, payload: dict[str, Any]) -> Iterator[str]:
        log.debug("POST %s model=%s", url, payload["model"])
        try:
            with self._client() as client, client.stream("POST", url, json=payload) as resp:
                if resp.status_code >= 400:
                    resp.read()
                _check_status(resp, self.base_url)
                if resp.headers.get("content-type", "").startswith("application/json"):
                    yield _message_content(_loads(resp.read().decode(), self.base_url))
                    return
                for line in resp.iter_lines():
                    piece = _sse_piece(line, self.base_url)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise EngineError(_describe(exc, self.base_url, self.settings.openai_timeout)) from exc


def _sse_piece(line: str, base_url: str) -> str | None:
    """The content delta of one SSE line: '' for no content, None at the end of the stream."""
    line = line.strip()
    if not line.startswith("data:"):
        return ""  # blank separators, comments (': ping'), event: lines
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    event = _loads(data, base_url)
    if "error" in event:
        raise EngineError(f"the OpenAI-compatible server at {base_url} failed: "
                          f"{_error_text(event)}")
    choices = event.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    return delta.get("content") or ""


def _message_content(body: dict[str, Any]) -> str:
    """Content of a non-streamed answer (for servers that ignore stream=true)."""
    choices = body.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


def _loads(text: str, base_url: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise EngineError(f"the OpenAI-compatible server at {base_url} sent invalid JSON: "
                          f"{text[:120]!r}") from None
    if not isinstance(value, dict):
        raise EngineError(f"the OpenAI-compatible server at {base_url} sent unexpected JSON: "
                          f"{text[:120]!r}")
    return value


def _check_status(resp: httpx.Response, base_url: str) -> None:
    if resp.status_code < 400:
        return
    try:
        detail = _error_text(json.loads(resp.text))
    except ValueError:
        detail = " ".join(resp.text.split())[:200]
    hint = " (check DOCCHAT_OPENAI_API_KEY)" if resp.status_code in (401, 403) else ""
    raise EngineError(f"the OpenAI-compatible server at {base_url} answered HTTP "
                      f"{resp.status_code} for {resp.request.url.path}: "
                      f"{detail or resp.reason_phrase}{hint}")


def _error_text(body: Any) -> str:
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        err = err.get("message") or err
    return " ".join(str(err).split())[:200]


def _describe(exc: Exception, base_url: str, timeout: float) -> str:
    """One line for the user: what went wrong talking to ``base_url``."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    reach = f"cannot reach the OpenAI-compatible server at {base_url}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"{reach}: no connection within {min(CONNECT_TIMEOUT, timeout):g}s"
    if isinstance(exc, httpx.TimeoutException):
        return (f"the OpenAI-compatible server at {base_url} did not answer within "
                f"{timeout:g}s (DOCCHAT_OPENAI_TIMEOUT)")
    if isinstance(exc, httpx.ConnectError):
        if "refused" in low:
            return f"{reach}: connection refused (is the server running?)"
        if "name" in low or "known" in low or "getaddrinfo" in low:
            return f"{reach}: host name not found"
        return f"{reach}: {text}"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid OpenAI-compatible server URL {base_url!r}: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the OpenAI-compatible server at {base_url} closed the connection: {text}"
    return f"talking to the OpenAI-compatible server at {base_url} failed: {text}"
