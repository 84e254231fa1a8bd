"""The one interface everything on disk sits behind: typed in and out, no FAISS or SQLite types.

A ``Store`` hands out readers (consistent snapshots: many at once, in any process) and one
writer at a time. The builder plans a run against the writer's bookkeeping (files, contents,
contents that failed to load), upserts the new contents with their chunks and vectors, deletes
the contents no file uses any more, and commits: nothing is visible to a reader before
``commit`` returns, and a writer killed at any moment leaves the last committed state.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from rag.types import Chunk, Page, Skipped

#: The on-disk format of the embedded store; a different one is rebuilt, never read.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class ChunkerSettings:
    version: int
    tokens: int
    overlap: int


@dataclass(frozen=True)
class Manifest:
    """What an index was built with: what must match for it to be updated in place."""

    format: int
    model: str
    dim: int
    chunker: ChunkerSettings
    roots: tuple[str, ...] = ()

    def rebuild_reason(self, want: "Manifest") -> str:
        """Why an index with this manifest cannot be updated to ``want`` in place ('' if it can)."""
        for key in ("format", "model", "chunker"):
            mine, theirs = getattr(self, key), getattr(want, key)
            if mine != theirs:
                return f"{key} changed: {_show(mine)!r} -> {_show(theirs)!r}"
        return ""

    def to_json(self) -> dict:
        return {"format": self.format, "model": self.model, "dim": self.dim,
                "chunker": {"version": self.chunker.version, "tokens": self.chunker.tokens,
                            "overlap": self.chunker.overlap},
                "roots": list(self.roots)}

    @classmethod
    def from_json(cls, d: dict) -> "Manifest":
        c = d.get("chunker") or {}
        return cls(format=int(d.get("format", 0)), model=str(d.get("model", "")),
                   dim=int(d.get("dim", 0)),
                   chunker=ChunkerSettings(int(c.get("version", 0)), int(c.get("tokens", 0)),
                                           int(c.get("overlap", 0))),
                   roots=tuple(d.get("roots", ())))


def _show(v):
    return {"version": v.version, "tokens": v.tokens, "overlap": v.overlap} \
        if isinstance(v, ChunkerSettings) else v


@dataclass(frozen=True)
class FileRecord:
    """A file as the index knows it: its path, the sha of its content, its size."""

    path: str
    sha: str
    size: int
    mtime_ns: int = 0  # modification time when hashed; 0: unknown (hash it again next time)


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with its provenance (the first path holding its content)."""

    id: int
    path: str
    page: int
    start: int
    end: int
    text: str
    label: str = ""
    context: str = ""
    structure: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class DocumentRecord:
    """An indexed file (for lists in the page and the API)."""

    path: str
    sha: str
    pages: int
    chunks: int
    size: int
    indexed_at: str


@dataclass(frozen=True)
class Stats:
    """What a committed state holds."""

    files: int = 0
    chunks: int = 0
    built_at: str = ""
    generation: int = 0
    segments: int = 0
    vectors: int = 0  # live vectors over all segments: equals ``chunks`` in a consistent state
    deleted: int = 0  # tombstoned rows still held by segments (dropped by merges)


@dataclass(frozen=True)
class Bookkeeping:
    """What the builder plans a run against."""

    files: dict[str, str] = field(default_factory=dict)  # path -> sha
    contents: frozenset[str] = frozenset()
    bad: dict[str, str] = field(default_factory=dict)  # sha -> why it failed to load
    #: path -> (size, mtime_ns) of each file when it was hashed: an unchanged pair means an
    #: unchanged file, so a no-change run stats files instead of reading them (as git does)
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: a full rebuild (``Writer.reset``) was started and never committed: redo it
    rebuild_pending: bool = False


@dataclass(frozen=True)
class StoredContent:
    """One content as a store holds it, enough to write it into another store without
    embedding it again (export / import): its pages, its chunks and their vectors, in order."""

    sha: str
    pages: tuple[Page, ...]
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # (len(chunks), dim) float32
    ids: tuple[int, ...] = ()  # the chunks' ids in this store (their order is commit order)


@dataclass(frozen=True)
class Scope:
    """The contents a search is limited to (by content hash: a document's chunks are its
    content's). Applied inside the search, before the top n are taken, so a scoped search
    returns the n best passages of those contents; BM25's corpus statistics stay those of the
    whole index, so a passage scores the same scoped or not."""

    shas: frozenset[str]


class Reader(Protocol):
    """A consistent snapshot of one committed state. Thread-safe for reading."""

    manifest: Manifest
    generation: int

    def search_dense(self, vec: np.ndarray, n: int, scope: Scope | None = None
                     ) -> dict[int, float]: ...
    def search_lexical(self, text: str, n: int, scope: Scope | None = None
                       ) -> dict[int, float]: ...
    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]: ...
    def vectors(self, ids: Sequence[int]) -> np.ndarray | None: ...
    def page_text(self, path: str, page: int) -> str: ...
    def stats(self) -> Stats: ...
    def skipped(self) -> tuple[Skipped, ...]: ...
    def documents(self) -> list[DocumentRecord]: ...
    def bookkeeping(self) -> Bookkeeping: ...
    def content(self, sha: str) -> StoredContent: ...  # KeyError when not held
    def close(self) -> None: ...


class Writer(Protocol):
    """The one writer (a lock held for its lifetime). Changes show only after ``commit``."""

    def upsert(self, sha: str, pages: Sequence[Page], chunks: Sequence[Chunk],
               vectors: np.ndarray) -> None: ...
    def delete(self, sha: str) -> None: ...
    def reset(self) -> None: ...  # a full rebuild at the next commit; a killed one is resumed
    def set_files(self, files: Sequence[FileRecord], skipped: Sequence[Skipped]) -> None: ...
    def commit(self, manifest: Manifest) -> Stats: ...
    def merge(self) -> None: ...  # fold segments per the merge policy (no-op when none due)
    def manifest(self) -> Manifest | None: ...
    def bookkeeping(self) -> Bookkeeping: ...
    def stats(self) -> Stats: ...


class Store(Protocol):
    def exists(self) -> bool: ...
    def generation(self) -> int: ...
    def reader(self) -> Reader: ...
    def writer(self) -> AbstractContextManager[Writer]: ...
