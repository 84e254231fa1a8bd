"""The local embedder: the model loaded once per process (two copies: questions in the
foreground, indexing in the background, which yields to them), batching.

``embed_backend`` runs it with torch (sentence-transformers) or with ONNX Runtime
(rag.embedding.onnx_model; fp32, or int8 as another model id). Which directory a model name
means, what 'auto' runs, the id an index records and the tokenizer that measures chunks are
settled without loading it, in rag.embedding.model_files. With ``embed_url`` set, an
OpenAI-compatible server embeds instead (rag.embedding.remote): ``embedder_for`` picks by
settings.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from rag.embedding.model_files import BACKEND_SUFFIX, model_dir, resolve_backend
from rag.errors import DocchatError
from rag.per_process import PerProcess
from rag.settings import Settings

log = logging.getLogger(__name__)
#: Seconds background encoding (indexing) waits after a foreground encode (a question) ends,
#: so that the two or three encodes of one question run back to back.
FOREGROUND_GRACE = 0.3


def embedder_for(settings: Settings):
    """The process-wide embedder the settings name: the local model, or the server at
    ``embed_url`` (same interface: ``name``, ``dim``, ``encode``)."""
    if not settings.embed_url:
        return Embedder.shared(settings.embed_model, settings.embed_batch,
                               settings.embed_backend, settings.embed_threads,
                               settings.embed_onnx_dir)
    from rag.embedding.remote import RemoteEmbedder

    key = (settings.embed_url, settings.embed_model, settings.embed_api_key,
           settings.embed_batch, settings.embed_timeout, settings.embed_retries,
           settings.embed_backoff)
    return _REMOTE.get(key, lambda: RemoteEmbedder(settings))


_REMOTE: PerProcess[tuple, object] = PerProcess("embedding server clients")


class Embedder:
    """Normalised sentence embeddings; one instance per model per process.

    Two copies of the model, each loaded when first needed: one for foreground calls (a
    question, its passages' sentences) and one for background calls (indexing). A question
    never waits for an indexing batch in flight: the two run side by side (each copy has its
    own tokenizer, which is not safe to share between threads), and the background work
    pauses between its batches while questions are being encoded, so a question asked during
    an upload costs about what it costs on an idle machine with one core instead of two.
    The CLI's ``docchat index`` only loads the background copy; a server loads the
    foreground copy at start and the other at its first upload (~90 MB more).

    ``backend``: 'torch' (a SentenceTransformer per copy) or 'onnx' / 'onnx-int8' (an ONNX
    Runtime session per copy, rag.embedding.onnx_model, over the export cached in
    ``onnx_dir``; ``threads`` per encode, 0: one per core), or 'auto' (``resolve_backend``;
    when the ONNX export then fails, torch, with a warning). ``name`` is the model id the
    index records (``model_id``)."""

    def __init__(self, name: str, batch_size: int = 32, backend: str = "auto",
                 threads: int = 0, onnx_dir: str = "") -> None:
        if backend not in BACKEND_SUFFIX:
            raise DocchatError(f"unknown embedding backend {backend!r}: one of "
                               f"{', '.join(BACKEND_SUFFIX)}")
        self.auto = backend == "auto"
        backend = resolve_backend(backend, name)
        if backend != "torch":
            try:
                _need_onnxruntime(backend)
            except DocchatError as e:  # installed, but it does not import (a broken wheel)
                if not self.auto:
                    raise
                log.warning("onnxruntime cannot be used (%s): running on torch", e)
                backend = "torch"
        if backend == "torch":
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the model loads in a blink; no bar for it
        self.name = name + BACKEND_SUFFIX[backend]
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self.onnx_dir = onnx_dir
        self._path = model_dir(name)
        self._models: dict[bool, object] = {}  # background? -> SentenceTransformer / OnnxModel
        self._loading = threading.Lock()
        self._calls = {False: threading.Lock(), True: threading.Lock()}  # one call per copy
        self._turn = threading.Condition()
        self._foreground = 0  # foreground calls running or waiting
        self._foreground_end = 0.0
        self._dim = 0
        self._mean_pooled: bool | None = None

    @property
    def dim(self) -> int:
        """The vectors' dimension (from whichever copy is loaded; loads one if none is)."""
        if not self._dim:
            loaded = list(self._models.values())
            model = loaded[0] if loaded else self._load(False)
            dim = getattr(model, "get_embedding_dimension", None) or \
                model.get_sentence_embedding_dimension
            self._dim = int(dim())
        return self._dim

    def _load(self, background: bool):
        with self._loading:
            model = self._models.get(background)
            if model is None:
                log.info("loading embedding model from %s (%s)%s", self._path, self.backend,
                         " (indexing copy)" if background else "")
                if self.backend != "torch":
                    try:
                        model = self._load_onnx()
                    except Exception as e:  # noqa: BLE001 - auto runs on torch whatever failed
                        if not self.auto:
                            raise
                        log.warning("the ONNX model cannot be used (%s): running on torch", e)
                        self.backend = "torch"
                if self.backend == "torch":
                    from sentence_transformers import SentenceTransformer

                    model = SentenceTransformer(str(self._path), device="cpu",
                                                local_files_only=True)
                self._models[background] = model
            return model

    def _load_onnx(self):
        from rag.embedding.onnx_export import cache_root, ensure
        from rag.embedding.onnx_model import OnnxModel, check_pooling

        check_pooling(self._path)  # before any export: a model this cannot run
        variant = "int8" if self.backend == "onnx-int8" else "fp32"
        path = ensure(self._path, variant, cache_root(self.onnx_dir))
        return OnnxModel(path, self._path, self.threads)

    @property
    def mean_pooled(self) -> bool:
        """Whether the model's sentence vector is the mean of its token vectors, unit length
        (a transformer with mean pooling, as the packaged MiniLM): then a sentence's vector
        can be taken from its token vectors (rag.answering.alignment.TokenVectors.pooled)."""
        if self._mean_pooled is None:
            from rag.embedding.onnx_model import check_pooling

            try:
                check_pooling(self._path)
                self._mean_pooled = True
            except (DocchatError, OSError, ValueError):
                self._mean_pooled = False
        return self._mean_pooled

    @property
    def model(self):
        """The foreground copy of the model."""
        return self._load(False)

    @contextmanager
    def foreground(self) -> Iterator:
        """The questions' copy of the model, for a call other than ``encode`` (e.g. token
        vectors): one call at a time on it (its tokenizer is not safe to share between
        threads), and indexing pauses between its batches meanwhile, as for ``encode``."""
        model = self._load(False)
        with self._turn:
            self._foreground += 1
        try:
            with self._calls[False]:
                yield model
        finally:
            with self._turn:
                self._foreground -= 1
                self._foreground_end = time.monotonic()
                self._turn.notify_all()

    def warm_up(self) -> None:
        """Load the copy questions use (a server calls this at start, in the background)."""
        self._load(False)

    @classmethod
    def shared(cls, name: str, batch_size: int = 32, backend: str = "auto", threads: int = 0,
               onnx_dir: str = "") -> "Embedder":
        key = (name, backend, threads, onnx_dir) if backend != "torch" else (name, backend)
        return _EMBEDDERS.get(key, lambda: cls(name, batch_size, backend, threads, onnx_dir))

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int, int], None] | None = None,
               background: bool = False) -> np.ndarray:
        """Normalised vectors of ``texts``, encoded batch by batch. A ``background`` call
        (indexing) runs on its own copy of the model and pauses between its batches while
        foreground calls run; ``on_batch(done, total)`` is called after each batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        model = self._load(background)
        # Longest first, as sentence-transformers orders one call, so batches pad little: in
        # tokens when the model can count them cheaply (ONNX: the Rust tokenizer), else in
        # characters.
        counts = getattr(model, "token_lengths", None)
        lengths = counts(texts) if counts is not None else [len(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _bar(len(texts)) if progress else None
        if not background:
            with self._turn:
                self._foreground += 1
        try:
            for start in range(0, len(texts), self.batch_size):
                ids = order[start:start + self.batch_size]
                if background:
                    self._yield_to_foreground()
                with self._calls[background]:
                    vecs = model.encode([texts[i] for i in ids], batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
                out[ids] = vecs
                if bar is not None:
                    bar.update(len(ids))
                if on_batch is not None:
                    on_batch(min(start + self.batch_size, len(texts)), len(texts))
        finally:
            if not background:
                with self._turn:
                    self._foreground -= 1
                    self._foreground_end = time.monotonic()
                    self._turn.notify_all()
        if bar is not None:
            bar.close()
        return np.ascontiguousarray(out)

    def _yield_to_foreground(self) -> None:
        """Wait while foreground calls run, and a moment after the last one ends: a question
        encodes two or three times in a row, and those should chain up."""
        with self._turn:
            while True:
                if self._foreground:
                    self._turn.wait()
                    continue
                pause = FOREGROUND_GRACE - (time.monotonic() - self._foreground_end)
                if pause <= 0:
                    return
                self._turn.wait(pause)


_EMBEDDERS: PerProcess[tuple, Embedder] = PerProcess("local embedders")


def _need_onnxruntime(backend: str) -> None:
    try:
        import onnxruntime  # noqa: F401 - loaded now rather than at the first encode
    except ImportError as e:
        from importlib.util import find_spec

        if find_spec("onnxruntime") is not None:
            raise DocchatError(f"DOCCHAT_EMBED_BACKEND={backend}: onnxruntime is installed "
                               f"but does not load ({e}); reinstall it (pip install "
                               "--force-reinstall onnxruntime==1.30.0) or "
                               "DOCCHAT_EMBED_BACKEND=torch") from None
        raise DocchatError(f"DOCCHAT_EMBED_BACKEND={backend} needs onnxruntime, which is not "
                           "installed: pip install onnxruntime==1.30.0 (make setup does), or "
                           "DOCCHAT_EMBED_BACKEND=torch") from None


def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding")
