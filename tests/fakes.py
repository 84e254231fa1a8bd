"""Test doubles shared by the test folders (one of each, not a copy per file)."""
from __future__ import annotations

import hashlib

import numpy as np


class HashEmbedder:
    """Stands in for the model where a test is about files, bookkeeping or the store, not
    about meaning: the vector of a text depends only on the text (a seeded random unit
    vector), so the same text always gets the same vector, in any process."""

    name = "hash-embedder"

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim

    def encode(self, texts, progress=False, **_):
        vecs = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:12], 16)
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            vecs[i] = v / np.linalg.norm(v)
        return vecs

    def warm_up(self) -> None:
        pass
