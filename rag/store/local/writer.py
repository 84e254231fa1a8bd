"""The one writer of the embedded store: a commit writes only what changed.

Crash argument. A commit (1) writes the new chunks' segment into ``seg-N.tmp``, fsyncs it,
renames it to ``seg-N`` and fsyncs the index folder; (2) runs ONE SQLite transaction that adds
the chunks, pages, contents and files, lists ``seg-N`` in ``segments``, turns replaced and
removed contents into tombstones and bumps the generation. The transaction's commit is the
publish point: killed before it, SQLite rolls back (WAL) and ``seg-N`` is an orphan that the
next writer removes before doing anything; killed after it, the new state is complete.
Merges (merger.py) run beside the writer, after its commit, with the same two steps: the merged
segment is written and synced first, then one transaction swaps it for its sources. Sources
leave the ``segments`` list at once but their folders are only removed by a writer that starts
after a further commit (``retired``), so a reader still holding the state before the merge
keeps its files. Every point where a killed writer or merger leaves partial state is named in
crash.py, and a test kills a real build at each one.
"""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.ingest.chunking import index_text
from rag.lexical import words
from rag.store.local import crash, db as dbmod, merger
from rag.store.local import segment_write as segwrite
from rag.store.local.layout import (DB, MERGE_LOCK, TMP_SUFFIX, legacy_manifest,
                                    publish_folder, remove_legacy, segment_dirs, try_lock)
from rag.store import sqlbooks
from rag.store.protocol import Bookkeeping, FileRecord, Manifest, Stats
from rag.types import Chunk, Page, Skipped

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    sha: str
    pages: Sequence[Page]
    chunks: Sequence[Chunk]
    vectors: np.ndarray


class LocalWriter:
    def __init__(self, root: Path, merges: merger.MergeConfig) -> None:
        self.root = root
        self.merges = merges
        self.ann = merges.ann
        self.db = dbmod.connect_writer(root / DB)
        self._committed = False
        self._pending: list[_Pending] = []
        self._deletes: set[str] = set()
        self._reset = False
        self._files: tuple[Sequence[FileRecord], Sequence[Skipped]] | None = None
        self._clean()

    # -- bookkeeping --------------------------------------------------------------------------
    def bookkeeping(self) -> Bookkeeping:
        return sqlbooks.bookkeeping(lambda sql, args=(): self.db.execute(sql, args).fetchall())

    def manifest(self) -> Manifest | None:
        """The committed manifest; for a format-1 index (generation copies) its old manifest,
        so that the builder rebuilds it from the same folders ("format changed")."""
        text = dbmod.get_meta(self.db, "manifest")
        if text:
            return Manifest.from_json(json.loads(text))
        return legacy_manifest(self.root)

    # -- changes (visible only after commit) --------------------------------------------------
    def upsert(self, sha: str, pages: Sequence[Page], chunks: Sequence[Chunk],
               vectors: np.ndarray) -> None:
        given = 0 if vectors is None else len(vectors)
        if len(chunks) != given:
            raise ValueError(f"{len(chunks)} chunks but {given} vectors for {sha}")
        self._pending.append(_Pending(sha, pages, chunks, vectors))

    def delete(self, sha: str) -> None:
        self._deletes.add(sha)

    def reset(self) -> None:
        """Drop everything at the next commit (a full rebuild); readers keep the old state.
        The intent is recorded at once (committed, invisible to readers): a run killed before
        its commit leaves it, and the next run's bookkeeping says a rebuild is pending."""
        self._reset = True
        if dbmod.generation(self.db) and not dbmod.get_meta(self.db, "rebuild_pending"):
            self.db.execute("BEGIN IMMEDIATE")
            dbmod.set_meta(self.db, "rebuild_pending", "1")
            self.db.execute("COMMIT")
        crash.at("reset-pending")

    def set_files(self, files: Sequence[FileRecord], skipped: Sequence[Skipped]) -> None:
        self._files = (files, skipped)

    def commit(self, manifest: Manifest) -> Stats:
        gen = dbmod.generation(self.db) + 1
        next_id = int(dbmod.get_meta(self.db, "next_id", "1"))
        name, ids = self._write_new_segment(next_id, manifest.dim)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            if self._reset:
                self._drop_all(gen)
            for sha in sorted(self._deletes):
                self.db.execute("INSERT OR IGNORE INTO tombstones SELECT id FROM chunks "
                                "WHERE sha = ?", (sha,))
                for table in ("chunks", "pages", "contents"):
                    self.db.execute(f"DELETE FROM {table} WHERE sha = ?", (sha,))
            if name:
                self._insert(name, ids)
                dbmod.set_meta(self.db, "next_id", str(int(ids[-1]) + 1))
            if self._files is not None:
                self._write_files(*self._files)
            stats = self._stats()
            dbmod.set_meta(self.db, "manifest", manifest.to_json())
            dbmod.set_meta(self.db, "stats", stats)
            dbmod.set_meta(self.db, "generation", str(gen))
            crash.at("before-commit")
            self.db.execute("COMMIT")  # the publish point
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self._committed = True
        self._pending, self._deletes, self._reset, self._files = [], set(), False, None
        remove_legacy(self.root)
        stats = self.stats()
        crash.at("after-commit")
        self.merge()
        return stats

    def stats(self) -> Stats:
        s = json.loads(dbmod.get_meta(self.db, "stats", "{}"))
        listed = self.db.execute("SELECT count(*), coalesce(sum(rows), 0) FROM segments")
        n_seg, rows = listed.fetchone()
        dead = self.db.execute("SELECT count(*) FROM tombstones").fetchone()[0]
        return Stats(files=s.get("files", 0), chunks=s.get("chunks", 0),
                     built_at=s.get("built_at", ""), generation=dbmod.generation(self.db),
                     segments=n_seg, vectors=rows - dead, deleted=dead)

    def close(self) -> None:
        if not self._committed:
            crash.at("no-change")
        self.db.close()

    # -- merges -------------------------------------------------------------------------------
    def merge(self) -> None:
        """Fold segments per the merge policy (merger.py): in a background thread that never
        holds the writer lock, or here and now with DOCCHAT_MERGE_BACKGROUND=false."""
        if self.merges.background:
            merger.schedule(self.root, self.merges)
        else:
            merger.run(self.root, self.merges)

    # -- internals ----------------------------------------------------------------------------
    def _write_new_segment(self, next_id: int, dim: int) -> tuple[str, np.ndarray]:
        chunks = [c for p in self._pending for c in p.chunks]
        if not chunks:
            return "", np.zeros(0, np.int64)
        name = dbmod.allocate_segment(self.db, self.root)
        ids = np.arange(next_id, next_id + len(chunks), dtype=np.int64)
        vectors = np.concatenate([p.vectors for p in self._pending if len(p.chunks)])
        if vectors.shape[1] != dim:
            raise ValueError(f"vector dimension {vectors.shape[1]} != index dimension {dim}")
        tmp = self.root / (name + TMP_SUFFIX)
        segwrite.write(tmp, ids, vectors, (words(index_text(c)) for c in chunks))
        if len(ids) >= self.ann.min_vectors:
            segwrite.write_hnsw(tmp, vectors, self.ann)
        crash.at("segment-written")
        publish_folder(tmp, self.root / name)
        crash.at("segment-renamed")
        return name, ids

    def _insert(self, name: str, ids: np.ndarray) -> None:
        it = iter(int(i) for i in ids)
        for p in self._pending:
            self.db.execute("INSERT OR REPLACE INTO contents VALUES (?, ?, ?)",
                            (p.sha, len(p.pages), len(p.chunks)))
            self.db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
                                [(p.sha, pg.page, pg.label, pg.text,
                                  dbmod.structure_json(pg.structure)) for pg in p.pages])
            self.db.executemany(
                'INSERT INTO chunks (id, sha, page, start, "end", label, text, context, '
                "structure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(next(it), p.sha, c.page, c.start, c.end, c.label, c.text, c.context,
                  dbmod.structure_json(c.structure)) for c in p.chunks])
        self.db.execute("INSERT INTO segments VALUES (?, ?)", (name, len(ids)))

    def _drop_all(self, gen: int) -> None:
        self.db.executemany("INSERT OR REPLACE INTO retired VALUES (?, ?)",
                            [(r[0], gen) for r in self.db.execute("SELECT name FROM segments")])
        for table in ("segments", "tombstones", "chunks", "pages", "contents", "files",
                      "skipped"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM meta WHERE key = 'rebuild_pending'")

    def _write_files(self, files: Sequence[FileRecord], skipped: Sequence[Skipped]) -> None:
        sqlbooks.write_files(self.db, files, skipped)

    def _stats(self) -> dict:
        files = self.db.execute("SELECT count(*) FROM files f WHERE EXISTS "
                                "(SELECT 1 FROM contents c WHERE c.sha = f.sha)").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return {"files": files, "chunks": chunks, "built_at": sqlbooks.now()}

    def _clean(self) -> None:
        """Remove what no committed state references: segments of killed builds and merges,
        and segments retired before the latest commit (no new reader can list them). Skipped
        while a merge runs (its unfinished segment is unreferenced too): the next writer
        cleans."""
        with try_lock(self.root, MERGE_LOCK) as no_merge_running:
            if no_merge_running:
                self._clean_unlocked()

    def _clean_unlocked(self) -> None:
        gen = dbmod.generation(self.db)
        listed = {r[0] for r in self.db.execute("SELECT name FROM segments")}
        retired = dict(self.db.execute("SELECT name, generation FROM retired").fetchall())
        doomed = [p for p in sorted(segment_dirs(self.root)) if p.name not in listed and not
                  (p.name in retired and retired[p.name] >= gen)]  # kept: a reader may hold it
        for k, p in enumerate(doomed):
            shutil.rmtree(p, ignore_errors=True)
            if k + 1 < len(doomed):
                crash.at("cleaning")
        gone = [(n,) for n, g in retired.items() if g < gen]
        if gone:
            try:
                self.db.executemany("DELETE FROM retired WHERE name = ?", gone)
            except sqlite3.Error:
                log.warning("could not forget retired segments", exc_info=True)
