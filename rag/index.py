"""Index: the one object every surface uses to build, refresh and search the document index."""
from __future__ import annotations

import bisect
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rag import indexing, retrieval
from rag.errors import (IndexMismatchError, IndexNotFoundError, NotFoundError,
                        PathError, QuestionError)
from rag.indexing import Prepared
from rag.ingest.files import visible
from rag.settings import Settings
from rag.store import Reader, Scope, exclusions, open_store
from rag.types import (Document, DocumentStatus, Fusion, Hit, Status, UpdateSummary,
                       document_id)

if TYPE_CHECKING:
    from rag.embedding.protocol import Embedder

log = logging.getLogger(__name__)


class Index:
    """A handle on an index directory. Readers always see a complete committed state; when
    another process (or an upload) commits a new one, the next call picks it up by itself."""

    def __init__(self, root: str | Path, settings: Settings | None = None,
                 embedder: Embedder | None = None) -> None:
        """``embedder``: any rag.embedding.protocol.Embedder (a test's fake, a pre-loaded
        model); default: the one the settings name, loaded when first needed."""
        self.settings = settings or Settings.from_env()
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise PathError(f"the index folder {self.root} is a file (--index / "
                            "DOCCHAT_INDEX_DIR names a folder)")
        self._embedder = embedder
        self.store = open_store(self.root, self.settings)
        self._snap: Reader | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: str | Path | None = None, settings: Settings | None = None,
             create: bool = False) -> "Index":
        """Open the index at ``root``; with ``create=False`` a missing index is an error."""
        settings = settings or Settings.from_env()
        idx = cls(root if root is not None else settings.index_dir, settings)
        if not create and not idx.exists:
            raise IndexNotFoundError(f"no index at {idx.root}: build one with 'docchat index'")
        return idx

    @property
    def exists(self) -> bool:
        return self.store.exists()

    def snapshot(self) -> Reader:
        """A consistent view of the latest committed state (renewed when a newer one exists)."""
        gen = self.store.generation()
        if gen == 0:
            raise IndexNotFoundError(f"no index at {self.root}: build one with 'docchat index'")
        with self._lock:
            if self._snap is None or self._snap.generation != gen:
                self._snap = self.store.reader()  # the old one closes when garbage-collected
            return self._snap

    def update(self, paths: Sequence[str | Path] | None = None, *, full: bool = False,
               add: bool = False, progress: bool = False, on_progress=None,
               recheck: Sequence[str] = (),
               prepared: Prepared | None = None, read_new: bool = True) -> UpdateSummary:
        """Bring the index in line with ``paths`` (default: the folders it was built from).

        Unchanged contents are not re-embedded; files gone from ``paths`` are removed; with
        ``add=True`` the paths join the index's folders instead of replacing them; files in
        ``recheck`` are read again even when they look unchanged; contents in ``prepared``
        are taken from it instead of being read and embedded again; with ``read_new=False``
        only removals are applied (see indexing.update)."""
        return indexing.update(self.root, self.settings,
                              None if paths is None else [str(p) for p in paths],
                              full=full, add=add, progress=progress, on_progress=on_progress,
                              recheck=frozenset(recheck), prepared=prepared,
                              read_new=read_new, embedder_factory=self._embedder and (lambda _: self._embedder))

    def rebuild_reason(self) -> str:
        """Why the next update must rebuild everything ('' when it can update in place, or
        when there is no index yet)."""
        return indexing.rebuild_reason(self.snapshot().manifest, self.settings) \
            if self.exists else ""

    def prepare(self, paths: Sequence[str | Path], on_progress=None,
                recheck: Sequence[str] = (), progress: bool = False) -> Prepared:
        """Read, chunk and embed what is new under ``paths`` without taking the writer, for a
        following ``update(prepared=...)`` (see indexing.prepare): the slow part of an update,
        done while other updates and deletes go on."""
        return indexing.prepare(self.root, self.settings, [str(p) for p in paths],
                                on_progress=on_progress, recheck=frozenset(recheck),
                                progress=progress,
                                embedder_factory=self._embedder and (lambda _: self._embedder))

    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        from rag.embedding.local import embedder_for

        return embedder_for(self.settings)

    def warm_up(self) -> None:
        """Load what a question needs before the first one comes: the embedding model's
        question copy, the answer checker (else, when it is off, the span reader; the reader
        then loads only for a question longer than the checker reads) and, for an LLM
        engine, the support checker (a server calls this at start)."""
        self.embedder().warm_up()
        from rag.answering import answer_check
        from rag.answering.span_reader import SpanReader, enabled

        if answer_check.enabled(self.settings):
            SpanReader.shared(self.settings, answer_check.NAME).warm_up()
        elif enabled(self.settings):
            SpanReader.shared(self.settings).warm_up()
        from rag.answering import entailment

        if self.settings.engine != "extractive" and entailment.enabled(self.settings):
            SpanReader.shared(self.settings, entailment.NAME).warm_up()  # an LLM's sentences
        if self.exists:  # the first search opens the store's reader, its maps and the
            # lexical statistics, and the first evidence loads the tokenizer of the token
            # vectors: about 100 ms of the first question on the seed, done here
            from rag.answering.evidence import build_evidence

            try:
                build_evidence(self.embedder(), "warm up", self.search("warm up", k=1))
            except Exception as exc:  # noqa: BLE001 - an index the model cannot read, a
                # remote embedder down, an update under way: the first question says so
                log.info("warm-up search skipped: %s", exc)

    def search(self, query: str, k: int | None = None, history: Sequence[str] = (),
               fusion: Fusion = Fusion.CONVEX, documents: Sequence[str] | None = None) -> list[Hit]:
        """The best ``k`` passages for ``query``, hybrid (dense + BM25), best first; with
        ``documents`` (ids or paths of files and folders: see ``scope``), the best ``k`` of
        those documents."""
        snap = self.snapshot()
        self._check_model(snap)
        scope = self.scope(documents)
        return retrieval.search(snap, self.embedder(), query, k or self.settings.top_k,
                                self.settings, history, fusion,
                                None if scope is None else Scope(scope.shas))

    def scope(self, documents: Sequence[str] | None) -> "ResolvedScope | None":
        """The indexed documents ``documents`` names: each item is a document id (as the
        library lists it), a file's path, or a folder's path (every indexed document under
        it: an indexed folder, the uploads folder). None: no scope. An empty list, or an item
        that names no indexed document, is an error that says which."""
        if documents is None or isinstance(documents, ResolvedScope):
            return documents
        items = [str(d).strip() for d in documents if str(d).strip()]
        if not items:
            raise QuestionError("the scope names no document: give document ids or paths, "
                                "or leave it out to search every document")
        snap = self.snapshot()
        gone = {k.path for k in snap.skipped()} | exclusions.read(self.root)
        indexed = {p: sha for p, sha in snap.bookkeeping().files.items() if p not in gone}
        ordered = sorted(indexed)
        by_id: dict[str, str] | None = None  # built only when an item is not a path
        chosen: dict[str, None] = {}
        for item in items:
            if item in indexed:
                chosen[item] = None
                continue
            try:
                p = os.path.realpath(os.path.expanduser(item))
            except ValueError:  # a NUL byte or an unpaired surrogate: no file has that name
                p = item
            if p in indexed:
                chosen[p] = None
                continue
            prefix = p.rstrip(os.sep) + os.sep  # a folder: every document under it (sorted
            under = ordered[bisect.bisect_left(ordered, prefix):  # paths: one range)
                            bisect.bisect_left(ordered, prefix + "\U0010ffff")]
            if not under:
                if by_id is None:
                    by_id = {document_id(path): path for path in indexed}
                under = [by_id[item]] if item in by_id else []
            if not under:
                raise NotFoundError(f"no indexed document is {item!r} (a document id from the "
                                    "library, or the path of an indexed file or folder)")
            chosen.update(dict.fromkeys(under))
        return ResolvedScope(paths=tuple(sorted(chosen)),
                             shas=frozenset(indexed[p] for p in chosen))

    def _check_model(self, snap: Reader) -> None:
        from rag.embedding.model_files import model_id

        want = model_id(self.settings)
        if snap.manifest.model != want:
            raise IndexMismatchError(
                f"the index at {self.root} was built with the embedding model "
                f"{snap.manifest.model!r}, the settings name {want!r}: run 'docchat index' to "
                "rebuild it with that model")

    def status(self) -> Status:
        if not self.exists:
            return Status(exists=False)
        snap = self.snapshot()
        m, st = snap.manifest, snap.stats()
        return Status(exists=True, files=st.files, chunks=st.chunks, model=m.model, dim=m.dim,
                      built_at=st.built_at, roots=m.roots, skipped=snap.skipped())

    def page_text(self, path: str, page: int) -> str:
        return self.snapshot().page_text(path, page)

    def documents(self) -> list[Document]:
        """Every indexed file, every file the last update skipped and every file the user
        excluded (see ``exclude``), sorted by path."""
        if not self.exists:
            return []
        snap = self.snapshot()
        skipped = snap.skipped()
        excluded = exclusions.read(self.root)
        gone = {s.path for s in skipped} | excluded  # may still have a files row
        docs = [_document(d.path, size=d.size, indexed_at=d.indexed_at, pages=d.pages,
                          chunks=d.chunks) for d in snap.documents() if d.path not in gone]
        for s in skipped:
            if s.path not in excluded:
                docs.append(_document(s.path, size=_size(s.path), status=DocumentStatus.SKIPPED,
                                      reason=s.reason))
        for path in excluded:
            docs.append(_document(path, size=_size(path), status=DocumentStatus.EXCLUDED, reason=(
                "left out of the index by you" if os.path.isfile(path) else
                "left out of the index by you; the file is no longer on disk")))
        return sorted(docs, key=lambda d: (d.path, d.status))

    def exclude(self, path: str) -> None:
        """Leave ``path`` out of this index from now on (it stays on disk); takes effect at
        the next update."""
        exclusions.add(self.root, path)

    def include(self, path: str) -> bool:
        """Undo ``exclude``: the next update indexes ``path`` again. False when it was not
        excluded."""
        return exclusions.remove(self.root, path)


@dataclass(frozen=True)
class ResolvedScope:
    """The documents a question is limited to: their paths, and their contents' hashes (what
    the store filters on)."""

    paths: tuple[str, ...]
    shas: frozenset[str]


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.isfile(path) else 0


def _document(path: str, **fields) -> Document:
    name = os.path.basename(path)
    return Document(id=document_id(path), path=path, name=visible(name),
                    type=os.path.splitext(name)[1].lstrip(".").lower(), **fields)
