"""Everything on disk, behind one protocol (rag.store.protocol); the embedded default is
rag.store.local, a Milvus backend is rag.store.milvus. Which one holds an index is the
``store`` setting (a URL: rag.store_url). No SQL or index file names outside this package."""
from __future__ import annotations

from pathlib import Path

from rag.store.protocol import (FORMAT_VERSION, Bookkeeping, ChunkerSettings, ChunkRecord,
                                DocumentRecord, FileRecord, Manifest, Reader, Scope, Stats,
                                Store, StoredContent, Writer)

__all__ = ["FORMAT_VERSION", "Bookkeeping", "ChunkerSettings", "ChunkRecord", "DocumentRecord",
           "FileRecord", "Manifest", "Reader", "Scope", "Stats", "Store", "StoredContent", "Writer",
           "open_store", "describe"]


def open_store(root: str | Path, settings=None) -> Store:
    """The store of the index folder ``root``: the one ``settings.store`` names, else the
    embedded store in ``root``. (``root`` stays the folder of the index's other files:
    exclusions, and for a Milvus server the bookkeeping database.)"""
    from rag.store_url import parse

    url = parse(settings.store if settings is not None else "")
    if url.kind == "milvus":
        from rag.store.milvus import MilvusStore

        return MilvusStore(url, root, settings)
    from rag.store.local import LocalStore

    return LocalStore(url.path or root, settings)


def describe(root: str | Path, settings=None) -> str:
    """Where an index lives, for people (no credentials)."""
    from rag.store_url import parse

    url = parse(settings.store if settings is not None else "")
    if url.kind == "milvus":
        return f"milvus-lite {url.path}" if url.lite else f"Milvus {url.uri}"
    return str(Path(url.path or root).resolve())
