"""What the page and the HTTP API share: one Index, the settings, and the documents folder.

Every method is a thin call into rag/ (the same calls the CLI makes); nothing here retrieves,
chunks or embeds by itself. The folder watcher is ui/watcher.py, the example questions
ui/examples.py.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

from rag import check_names, save_upload
from rag.answer import ask, ask_stream
from rag.conversations import Conversations
from rag.errors import NotFoundError, PathError, UploadError
from ui.admission import Admission
from ui.examples import Examples
from rag.index import Index, Prepared
from rag.settings import Settings
from rag.types import Answer, Document, DocumentStatus, Hit, Status, UpdateSummary

log = logging.getLogger(__name__)
OnProgress = Callable[[float, str], None]
#: The share of an update's progress bar that its preparation (reading and embedding) takes.
PREPARED = 0.9


def _scaled(on_progress: OnProgress | None, start: float, end: float) -> OnProgress | None:
    """``on_progress`` with its fractions mapped into [start, end]: one bar over a
    preparation and the update after it."""
    if on_progress is None:
        return None
    return lambda fraction, message: on_progress(start + (end - start) * fraction, message)


class Service:
    def __init__(self, settings: Settings) -> None:
        for path, what in ((settings.upload_dir, "the documents folder (--docs / "
                                                 "DOCCHAT_UPLOAD_DIR)"),
                           (settings.data_path, "the data folder (DOCCHAT_DATA_DIR)")):
            if Path(path).exists() and not Path(path).is_dir():
                raise PathError(f"{what} {path} is a file; it must be a folder")
        self.settings = settings
        self.index = Index.open(settings.index_dir, settings, create=True)
        self.docs = Path(settings.upload_dir)
        self.conversations = Conversations(settings.data_path)
        self._update_lock = threading.Lock()  # one index update at a time in this process
        # one preparation (reading and embedding new files, before the update that stores
        # them) at a time; it does not hold _update_lock, so deletes go on meanwhile
        self._prepare_lock = threading.Lock()
        self.admission = Admission(settings.max_concurrent_questions, settings.question_queue)
        self.examples = Examples(self.index)
        self.model_ready = threading.Event()  # set once the embedding model is loaded

    def preload(self) -> threading.Thread:
        """Load the embedding model in the background, so the first question does not wait."""
        def load() -> None:
            try:
                self.index.warm_up()
            except Exception:  # the first question will report it properly
                log.exception("loading the embedding model failed")
            finally:
                self.model_ready.set()
        thread = threading.Thread(target=load, name="docchat-preload", daemon=True)
        thread.start()
        return thread

    @property
    def max_bytes(self) -> int:
        return int(self.settings.upload_max_mb * 2**20)

    def ensure_index(self) -> UpdateSummary | None:
        """Build the index from the configured documents when there is none yet."""
        if self.index.exists:
            return None
        log.info("no index at %s yet: building it", self.index.root)
        return self.update(None)

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (),
            engine: str | None = None, k: int | None = None,
            documents: Sequence[str] | None = None,
            **engine_options: str) -> Iterator[str | Answer]:
        """Stream the draft, then the verified Answer (see rag.answer.ask_stream); with
        ``documents``, only those are searched. ``engine_options`` override settings for this
        question, e.g. openai_base_url."""
        settings = self._settings_for(engine_options)

        def in_turn() -> Iterator[str | Answer]:
            with self.admission.turn():  # BusyError (503) when too many are waiting
                yield from ask_stream(self.index, question, history, engine, k, settings,
                                      documents)
        return in_turn()

    def scope_folders(self) -> list[str]:
        """Folders a question can be limited to as a group: the indexed ones, the uploads."""
        roots = list(self.status().roots) if self.index.exists else []
        return roots + [str(self.docs)] if str(self.docs) not in roots else roots

    def answer(self, question: str, history: Sequence[tuple[str, str]] = (),
               engine: str | None = None, k: int | None = None,
               documents: Sequence[str] | None = None) -> Answer:
        """The verified Answer, without the streamed draft (rag.answer.ask); ``documents``
        limits the search (rag.index.Index.scope)."""
        with self.admission.turn():
            return ask(self.index, question, history, engine, k, documents=documents)

    def summarise(self, documents: Sequence[str], sentences: int | None = None,
                  on_progress: OnProgress | None = None) -> Answer:
        """A cited summary (rag.answering.summary); waits its turn as a question does."""
        from rag import summarise

        with self.admission.turn():
            return summarise(self.index, documents, sentences, on_progress)

    def search(self, query: str, k: int, documents: Sequence[str] | None = None) -> list[Hit]:
        with self.admission.turn():
            return self.index.search(query, k, documents=documents)

    def _settings_for(self, engine_options: dict[str, str]) -> Settings | None:
        options = {key: v for key, v in engine_options.items() if v}
        return dataclasses.replace(self.settings, **options) if options else None

    def status(self) -> Status:
        return self.index.status()

    def update(self, paths: Sequence[str | Path] | None, *, full: bool = False,
               add: bool = False, on_progress: OnProgress | None = None,
               prepared: Prepared | None = None) -> UpdateSummary:
        with self._update_lock:
            return self.index.update(paths, full=full, add=add, on_progress=on_progress,
                                     prepared=prepared)

    def _prepare(self, paths: Sequence[str | Path], on_progress: OnProgress | None,
                 recheck: Sequence[str] = ()) -> Prepared | None:
        """Read and embed what is new under ``paths`` before the update that stores it,
        holding only the preparation lock (not _update_lock, nor the store's writer): a
        scanned PDF's OCR or a large upload's embedding no longer holds up a delete or the
        library's other actions. None when there is no index yet (the first build is
        prepared by the update itself)."""
        if not self.index.exists or not paths:
            return None
        with self._prepare_lock:
            return self.index.prepare(paths, on_progress=_scaled(on_progress, 0.0, PREPARED),
                                      recheck=recheck)

    def watched_paths(self) -> list[str]:
        """The indexed folders, plus the documents folder once it exists."""
        paths = list(self.status().roots) if self.index.exists else []
        if self.docs.is_dir() and str(self.docs.resolve()) not in paths:
            paths.append(str(self.docs.resolve()))
        return paths

    def refresh(self, full: bool = False, on_progress: OnProgress | None = None,
                recheck: Sequence[str] = ()) -> UpdateSummary:
        """Re-read every indexed folder (and the documents folder, if it has files); the
        files in ``recheck`` are read and hashed even when they look unchanged."""
        # The index's own folders are read inside the update, under the writer lock: a list
        # taken before it could drop a folder another process (docchat index --add) had just
        # added, so only the documents folder is named here, added to them.
        prepared = None if full else self._prepare(self.watched_paths(), on_progress, recheck)
        return self._refresh(full, on_progress, recheck, prepared)

    def _refresh(self, full: bool = False, on_progress: OnProgress | None = None,
                 recheck: Sequence[str] = (), prepared: Prepared | None = None,
                 read_new: bool = True) -> UpdateSummary:
        if prepared is not None:
            on_progress = _scaled(on_progress, PREPARED, 1.0)
        with self._update_lock:
            if not self.index.exists:
                return self.index.update(None, on_progress=on_progress)
            docs = [self.docs] if self.docs.is_dir() else None
            return self.index.update(docs, add=docs is not None, full=full,
                                     on_progress=on_progress, recheck=recheck,
                                     prepared=prepared, read_new=read_new)

    def add_files(self, files: Iterable[tuple[str, BinaryIO]],
                  on_progress: OnProgress | None = None) -> tuple[list[str], UpdateSummary]:
        """Save uploads into the documents folder, then index that folder incrementally.

        All files are checked and received before any is moved into the folder: if one is
        refused (wrong type, too large, empty, two saved under one name) nothing changes and
        UploadError says why."""
        files = list(files)
        if not files:
            raise UploadError("no file was uploaded")
        check_names([name for name, _ in files])  # types, and no two saved as one name
        self.docs.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.docs, prefix=".incoming-"))  # hidden: not indexed
        try:
            staged = [save_upload(stream, name, staging, self.max_bytes) for name, stream in files]
            # read and embed them while they are still hidden, so that a delete or a refresh
            # meanwhile neither waits for them nor reads them itself
            prepared = self._prepare([staging], on_progress)
            for path in staged:
                os.replace(path, self.docs / path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        summary = self.update([self.docs], add=True, prepared=prepared,
                              on_progress=_scaled(on_progress, PREPARED, 1.0)
                              if prepared is not None else on_progress)
        return [p.name for p in staged], summary

    def documents(self) -> list[Document]:
        """The library: every indexed document and every skipped file."""
        return self.index.documents()

    def document(self, doc_id: str) -> Document:
        doc = self._find(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return doc

    def in_uploads(self, doc: Document) -> bool:
        return Path(doc.path).resolve().parent == self.docs.resolve()

    def delete_document(self, doc_id: str) -> tuple[Document, UpdateSummary]:
        """Remove a document from the index at once: an uploaded file is deleted from the
        documents folder; a file in the user's own folder stays on disk and is excluded
        from every later update.
        A failed update changes nothing: the file is put back or the exclusion undone."""
        doc = self.document(doc_id)
        path = Path(doc.path)
        if self.in_uploads(doc):
            aside = path.with_name(f".deleting-{path.name}")  # hidden: not indexed
            if path.exists():
                os.replace(path, aside)
            try:
                # removals only: a file another update is reading is left to that update
                summary = self._refresh(read_new=False)
            except BaseException:
                if aside.exists():
                    os.replace(aside, path)
                raise
            aside.unlink(missing_ok=True)
            return doc, summary
        self.index.exclude(doc.path)
        try:
            return doc, self._refresh(read_new=False)
        except BaseException:
            self.index.include(doc.path)
            raise

    def reindex_document(self, doc_id: str, on_progress: OnProgress | None = None
                         ) -> tuple[Document | None, bool, UpdateSummary]:
        """Read one document again now: its file is hashed even if its size and time look
        unchanged, and a file that failed to load is tried again. It is re-embedded only when
        its content changed (content hashes are identity: the same text gives the same
        vectors, so re-embedding it would change nothing). Returns the document as the
        library now lists it (None when the file is gone), whether it was re-embedded, and
        the update summary."""
        doc = self.document(doc_id)
        if doc.status == DocumentStatus.EXCLUDED:
            raise NotFoundError(f"{doc.name} is excluded from the index: include it again")
        summary = self.refresh(on_progress=on_progress, recheck=[doc.path])
        changed = doc.path in summary.added or doc.path in summary.updated
        return self._find(doc_id), changed, summary

    def include_document(self, doc_id: str, on_progress: OnProgress | None = None
                         ) -> tuple[Document | None, UpdateSummary]:
        """Undo an exclusion and index the file at once. Returns the document as the library
        now lists it (None when the file is no longer on disk) and the update summary."""
        doc = self.document(doc_id)
        if doc.status != DocumentStatus.EXCLUDED or not self.index.include(doc.path):
            raise NotFoundError(f"{doc.name} is not excluded from the index")
        summary = self.refresh(on_progress=on_progress)
        return self._find(doc_id), summary

    def _find(self, doc_id: str) -> Document | None:
        return next((d for d in self.index.documents() if d.id == doc_id), None)

    def example_questions(self, n: int = 3) -> list[str]:
        """Questions to start from (ui/examples.py), one per recently indexed document."""
        return self.examples.questions(n)
