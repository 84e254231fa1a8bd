"""Everything on disk, behind one protocol (rag.store.protocol); the embedded default is
rag.store.local. No SQL or index file names outside this package."""
from __future__ import annotations

from pathlib import Path

from rag.store.protocol import (FORMAT_VERSION, Bookkeeping, ChunkerSettings, ChunkRecord,
                                DocumentRecord, FileRecord, Manifest, Reader, Stats, Store, Writer)

__all__ = ["FORMAT_VERSION", "Bookkeeping", "ChunkerSettings", "ChunkRecord", "DocumentRecord",
           "FileRecord", "Manifest", "Reader", "Stats", "Store", "Writer", "open_store"]


def open_store(root: str | Path, settings=None) -> Store:
    """The store at ``root`` (today always the embedded one)."""
    from rag.store.local import LocalStore

    return LocalStore(root, settings)
