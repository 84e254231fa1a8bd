"""Objects made once per process and key: loaded models (the embedder, the span reader, a
GGUF engine), an embedding server's client, Milvus clients. One way to write all of them.

    _READERS: PerProcess[tuple, SpanReader] = PerProcess("span readers")
    reader = _READERS.get(key, lambda: SpanReader(...))

``make`` runs under a lock of its own key, so two threads asking for the same key at once
make it once (a model is loaded once), while a thread asking for another key, made or not,
does not wait for it (a first ONNX export of the checker does not hold up questions that
only need the loaded embedder); a failed ``make`` stores nothing, and the next call tries
again.
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
        self._lock = threading.Lock()  # guards the two dicts; never held while making
        self._making: dict[K, threading.Lock] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:  # made by the thread we waited for
                    return self._items[key]
            made = make()
            with self._lock:
                self._items[key] = made
                self._making.pop(key, None)
            return made

    def remove(self, which: Callable[[K], bool]) -> list[V]:
        """Forget the objects whose key ``which`` accepts; returns them (to be closed)."""
        with self._lock:
            return [self._items.pop(k) for k in [k for k in self._items if which(k)]]

    def __len__(self) -> int:
        return len(self._items)
