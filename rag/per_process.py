"""Objects made once per process and key: loaded models (the embedder, the span reader, a
GGUF engine), an embedding server's client, Milvus clients. One way to write all of them.

    _READERS: PerProcess[tuple, SpanReader] = PerProcess("span readers")
    reader = _READERS.get(key, lambda: SpanReader(...))

``make`` runs under a lock of its own key, so two threads asking for the same key at once
make it once (a model is loaded once), while a thread asking for another key, made or not,
does not wait for it (a first ONNX export of the answer checker does not hold up a question
that needs the span reader, already loaded); a failed ``make`` stores nothing, and the next call tries
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
            making = self._making.setdefault(key, threading.Lock())  # kept: one per key
        with making:
            with self._lock:
                if key in self._items:  # made by the thread we waited for
                    return self._items[key]
            made = make()
            with self._lock:
                self._items[key] = made
            return made

    def remove(self, which: Callable[[K], bool]) -> list[V]:
        """Forget the objects whose key ``which`` accepts; returns them (to be closed). A make
        of such a key in progress is waited for, so what it makes is forgotten too."""
        with self._lock:
            keys = [k for k in {**self._items, **self._making} if which(k)]
            locks = [self._making.setdefault(k, threading.Lock()) for k in keys]
        out = []
        for k, lock in zip(keys, locks):
            with lock, self._lock:
                if k in self._items:
                    out.append(self._items.pop(k))
        return out

    def __len__(self) -> int:
        return len(self._items)
