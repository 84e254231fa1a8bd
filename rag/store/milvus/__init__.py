"""A Milvus backend of the store protocol (pymilvus; milvus-lite in process for tests and small
setups, a Milvus server or cluster otherwise). Chunks, vectors and BM25 live in one Milvus
collection per index; docchat's bookkeeping in a small SQLite database (books.py) that is also
the publish point of a commit (writer.py). pymilvus is imported only when a store is opened.
"""
from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rag.per_process import PerProcess
from rag.settings import Settings
from rag.store import sqlbooks
from rag.store.milvus import books
from rag.store_url import StoreURL

_CLIENTS: PerProcess[tuple, object] = PerProcess("Milvus clients")


class MilvusStore:
    """The index in Milvus at ``url``; bookkeeping beside the milvus-lite database, or, for a
    server, in the index folder ``root`` (one docchat host writes and serves an index; see
    docs/scale-out.md)."""

    def __init__(self, url: StoreURL, root: str | Path, settings: Settings | None = None) -> None:
        self.url = url
        self.settings = s = settings or Settings()
        self.prefix = url.collection or s.milvus_collection
        if url.lite:
            lite = Path(url.path)
            self.books_path = lite.with_name(lite.stem + "-docchat.sqlite")
            self.where = f"milvus-lite {lite}"
        else:
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", url.uri.split("://", 1)[1])
            self.books_path = Path(root) / f"milvus-{safe}-{self.prefix}.sqlite"
            self.where = f"Milvus {url.uri} collection {self.prefix}"

    def _client(self):
        """One client per URL and process (milvus-lite serves one process)."""
        from rag.store.milvus.collection import connect

        key = (self.url.uri, self.settings.milvus_token, self.settings.milvus_user)

        def make():
            if self.url.lite:
                Path(self.url.path).parent.mkdir(parents=True, exist_ok=True)
            return connect(self.url, self.settings)

        return _CLIENTS.get(key, make)

    def generation(self) -> int:
        if not self.books_path.exists():
            return 0
        db = sqlbooks.connect_reader(self.books_path)
        try:
            return books.generation(db)
        finally:
            db.close()

    def exists(self) -> bool:
        return self.generation() > 0

    def reader(self):
        from rag.store.milvus.reader import MilvusReader

        return MilvusReader(self._client(), self.books_path, self.where)

    @contextmanager
    def writer(self) -> Iterator:
        from rag.store.milvus.writer import MilvusWriter

        self.books_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.books_path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            w = MilvusWriter(self._client(), self.books_path, self.prefix, self.url.lite,
                             (self.settings.bm25_k1, self.settings.bm25_b), self.where)
            try:
                yield w
            finally:
                w.close()
        finally:
            os.close(fd)


def release(url: StoreURL) -> None:
    """Close this process's client of ``url`` (and stop a milvus-lite server, freeing its
    database for another process)."""
    for client in _CLIENTS.remove(lambda key: key[0] == url.uri):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    if url.lite:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(url.path)
