"""Index: the one object every surface uses to build, refresh and search the document index."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import os

from rag import builder, exclusions, retrieval, store
from rag.errors import IndexNotFoundError
from rag.settings import Settings
from rag.types import Document, Hit, Skipped, Status, UpdateSummary, document_id

log = logging.getLogger(__name__)


class Index:
    """A handle on an index directory. Readers always see a complete generation; when another
    process (or an upload) publishes a new one, the next call picks it up by itself."""

    def __init__(self, root: str | Path, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.root = Path(root)
        self._snap: store.Snapshot | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: str | Path | None = None, settings: Settings | None = None,
             create: bool = False) -> "Index":
        """Open the index at ``root``; with ``create=False`` a missing index is an error."""
        settings = settings or Settings.from_env()
        idx = cls(root if root is not None else settings.index_dir, settings)
        if not create and store.current_generation(idx.root) is None:
            raise IndexNotFoundError(f"no index at {idx.root}: build one with 'docchat index'")
        return idx

    @property
    def exists(self) -> bool:
        return store.current_generation(self.root) is not None

    def snapshot(self) -> store.Snapshot:
        gen = store.current_generation(self.root)
        if gen is None:
            raise IndexNotFoundError(f"no index at {self.root}: build one with 'docchat index'")
        with self._lock:
            if self._snap is None or self._snap.path != gen:
                self._snap = store.Snapshot(gen)  # the old one closes when garbage-collected
            return self._snap

    def update(self, paths: Sequence[str | Path] | None = None, *, full: bool = False,
               add: bool = False, progress: bool = False, on_progress=None) -> UpdateSummary:
        """Bring the index in line with ``paths`` (default: the folders it was built from).

        Unchanged contents are not re-embedded; files gone from ``paths`` are removed; with
        ``add=True`` the paths join the index's folders instead of replacing them."""
        return builder.update(self.root, self.settings,
                              None if paths is None else [str(p) for p in paths],
                              full=full, add=add, progress=progress, on_progress=on_progress)

    def embedder(self):
        from rag.embedding import Embedder

        return Embedder.shared(self.settings.embed_model, self.settings.embed_batch)

    def search(self, query: str, k: int | None = None, history: Sequence[str] = (),
               fusion: str = "convex") -> list[Hit]:
        """The best ``k`` passages for ``query``, hybrid (dense + BM25), best first."""
        snap = self.snapshot()
        return retrieval.search(snap, self.embedder(), query, k or self.settings.top_k,
                                self.settings, history, fusion)

    def status(self) -> Status:
        if not self.exists:
            return Status(exists=False)
        snap = self.snapshot()
        m = snap.manifest
        skipped = tuple(Skipped(p, r) for p, r in
                        snap.query("SELECT path, reason FROM skipped ORDER BY path"))
        return Status(exists=True, files=m.get("files", 0), chunks=m.get("chunks", 0),
                      model=m.get("model", ""), dim=m.get("dim", 0),
                      built_at=m.get("built_at", ""), roots=tuple(m.get("roots", [])),
                      skipped=skipped)

    def page_text(self, path: str, page: int) -> str:
        rows = self.snapshot().query(
            "SELECT p.text FROM pages p JOIN files f ON f.sha = p.sha "
            "WHERE f.path = ? AND p.page = ?", (path, page))
        return rows[0][0] if rows else ""

    def documents(self) -> list[Document]:
        """Every indexed file and every file the last update skipped, sorted by path."""
        if not self.exists:
            return []
        snap = self.snapshot()
        rows = snap.query("SELECT f.path, f.size, f.indexed_at, c.pages, c.chunks FROM files f "
                          "LEFT JOIN contents c ON c.sha = f.sha")
        skipped = snap.query("SELECT path, reason FROM skipped")
        gone = {p for p, _ in skipped}  # a skipped file may still have a files row
        docs = [_document(p, size=size or 0, indexed_at=when or "", pages=pages or 0,
                          chunks=chunks or 0) for p, size, when, pages, chunks in rows
                if p not in gone]
        for p, reason in skipped:
            docs.append(_document(p, size=os.path.getsize(p) if os.path.isfile(p) else 0,
                                  status="skipped", reason=reason))
        return sorted(docs, key=lambda d: (d.path, d.status))

    def exclude(self, path: str) -> None:
        """Leave ``path`` out of this index from now on (it stays on disk); takes effect at
        the next update."""
        exclusions.add(self.root, path)


def _document(path: str, **fields) -> Document:
    name = os.path.basename(path)
    return Document(id=document_id(path), path=path, name=name,
                    type=os.path.splitext(name)[1].lstrip(".").lower(), **fields)
