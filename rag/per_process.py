"""Objects made once per process and key: loaded models (the embedder, the span reader, a
GGUF engine), an embedding server's client, Milvus clients. One way to write all of them.

    _READERS: PerProcess[tuple, SpanReader] = PerProcess("span readers")
    reader = _READERS.get(key, lambda: SpanReader(...))

``make`` runs under the registry's lock, so two threads asking for the same key at once
make it once (a model is loaded once); a failed ``make`` stores nothing, and the next call
tries again.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PerProcess(Generic[K, V]):
    def __init__(self, what: str) -> None:
        self.what = what  # for a reader of the code and of a debugger
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key not in self._items:
                self._items[key] = make()
            return self._items[key]

    def remove(self, which: Callable[[K], bool]) -> list[V]:
        """Forget the objects whose key ``which`` accepts; returns them (to be closed)."""
        with self._lock:
            return [self._items.pop(k) for k in [k for k in self._items if which(k)]]

    def __len__(self) -> int:
        return len(self._items)
