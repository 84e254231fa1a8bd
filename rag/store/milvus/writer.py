"""The one writer of a Milvus index.

Milvus has no multi-row transactions, so a commit is made visible by the bookkeeping database,
not by Milvus. A commit (1) inserts the new chunks as rows tagged ``gen = G+1`` (new chunk
ids, never reused, so no committed row is overwritten) into the live collection, or into a new
collection ``PREFIX_gN`` for a reset (a full rebuild, which may change the dimension), and
flushes; (2) runs ONE SQLite transaction that records files, contents, pages, the manifest,
the collection name, turns removed contents into tombstones and sets the generation to G+1:
the publish point; (3) deletes the tombstoned contents' rows from Milvus, drops the collection
a reset replaced, and forgets the tombstones. Readers filter rows on ``gen <= G`` and on the
tombstones, so: killed before (2), the new rows are invisible (gen > G) and the next writer
deletes them before it writes anything; killed after (2), the new state is complete and the
next writer finishes (3). Search never returns a chunk of a half-written commit.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.ingest.chunking import index_text
from rag.store import sqlbooks
from rag.store.milvus import books
from rag.store.milvus import collection as col
from rag.store.protocol import Bookkeeping, FileRecord, Manifest, Stats
from rag.types import Chunk, Page, Skipped

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    sha: str
    pages: Sequence[Page]
    chunks: Sequence[Chunk]
    vectors: np.ndarray


class MilvusWriter:
    def __init__(self, client, books_path: Path, prefix: str, lite: bool, bm25: tuple,
                 where: str) -> None:
        self.client = client
        self.prefix = prefix
        self.lite = lite
        self.bm25 = bm25
        self.where = where
        self.db = books.connect_writer(books_path)
        self._pending: list[_Pending] = []
        self._deletes: set[str] = set()
        self._reset = False
        self._files: tuple[Sequence[FileRecord], Sequence[Skipped]] | None = None
        self._clean()

    # -- bookkeeping --------------------------------------------------------------------------
    def bookkeeping(self) -> Bookkeeping:
        return sqlbooks.bookkeeping(lambda sql, args=(): self.db.execute(sql, args).fetchall())

    def manifest(self) -> Manifest | None:
        text = books.get_meta(self.db, "manifest")
        return Manifest.from_json(json.loads(text)) if text else None

    def stats(self) -> Stats:
        s = json.loads(books.get_meta(self.db, "stats", "{}"))
        n = int(s.get("chunks", 0))
        return Stats(files=s.get("files", 0), chunks=n, built_at=s.get("built_at", ""),
                     generation=books.generation(self.db), vectors=n)

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
        self._reset = True

    def set_files(self, files: Sequence[FileRecord], skipped: Sequence[Skipped]) -> None:
        self._files = (files, skipped)

    def merge(self) -> None:
        """Nothing to do: Milvus compacts its own segments."""

    def commit(self, manifest: Manifest) -> Stats:
        gen = books.generation(self.db) + 1
        live = books.get_meta(self.db, "collection")
        target = live
        if self._reset or not live:
            target = f"{self.prefix}_{self._uid()}_g{gen}" if manifest.dim else ""
            if target:
                # listed for dropping first: killed before the publish point, the next writer
                # drops it; the commit takes it off the list
                self.db.execute("INSERT OR IGNORE INTO dropped VALUES (?)", (target,))
                col.create(self.client, target, manifest.dim, *self.bm25, lite=self.lite)
        next_id = int(books.get_meta(self.db, "next_id", "1"))
        if self._pending:  # tells a later writer that rows above the generation may exist
            books.set_meta(self.db, "pending", str(gen))
        firsts = self._insert(target, gen, next_id, manifest.dim)  # (1): invisible rows
        try:
            self.db.execute("BEGIN IMMEDIATE")  # (2): the publish point
            if self._reset:
                for table in ("files", "contents", "pages", "skipped", "tombstones"):
                    self.db.execute(f"DELETE FROM {table}")
                if live and live != target:
                    self.db.execute("INSERT OR IGNORE INTO dropped VALUES (?)", (live,))
            else:
                for sha in sorted(self._deletes):
                    self.db.execute("INSERT OR IGNORE INTO tombstones VALUES (?)", (sha,))
                    for table in ("contents", "pages"):
                        self.db.execute(f"DELETE FROM {table} WHERE sha = ?", (sha,))
            self.db.execute("DELETE FROM dropped WHERE collection = ?", (target,))
            self._record(firsts)
            if self._files is not None:
                self._write_files(*self._files)
            books.set_meta(self.db, "next_id", str(next_id + sum(len(p.chunks)
                                                                 for p in self._pending)))
            books.set_meta(self.db, "collection", target)
            books.set_meta(self.db, "manifest", manifest.to_json())
            books.set_meta(self.db, "stats", self._stats())
            books.set_meta(self.db, "generation", str(gen))
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self._pending, self._deletes, self._reset, self._files = [], set(), False, None
        self._finish()  # (3)
        return self.stats()

    def close(self) -> None:
        self.db.close()

    # -- internals ----------------------------------------------------------------------------
    def _insert(self, target: str, gen: int, next_id: int, dim: int) -> dict[str, int]:
        """Insert the pending chunks (ids from ``next_id``, in order) and flush; the first id
        of each content."""
        firsts: dict[str, int] = {}
        rows: list[dict] = []
        cid = next_id
        first_path: dict[str, str] = {}
        for f in (self._files[0] if self._files is not None else ()):
            if f.sha not in first_path or f.path < first_path[f.sha]:
                first_path[f.sha] = f.path
        for p in self._pending:
            firsts[p.sha] = cid
            if len(p.chunks) and p.vectors.shape[1] != dim:
                raise ValueError(f"vector dimension {p.vectors.shape[1]} != index dimension {dim}")
            path = first_path.get(p.sha, "")
            for c, v in zip(p.chunks, p.vectors):
                rows.append(col.row(cid, gen, p.sha, path, c, index_text(c), v))
                cid += 1
                if len(rows) >= col.INSERT_BATCH:
                    self._send(target, rows)
                    rows = []
        self._send(target, rows)
        if cid > next_id:
            with col.errors(f"{self.where}: flush failed"):
                self.client.flush(target)
        return firsts

    def _send(self, target: str, rows: list[dict]) -> None:
        if rows:
            with col.errors(f"{self.where}: insert failed"):
                self.client.insert(target, rows)

    def _record(self, firsts: dict[str, int]) -> None:
        for p in self._pending:
            self.db.execute("INSERT OR REPLACE INTO contents VALUES (?, ?, ?, ?)",
                            (p.sha, len(p.pages), len(p.chunks), firsts[p.sha]))
            self.db.execute("DELETE FROM pages WHERE sha = ?", (p.sha,))
            self.db.executemany("INSERT INTO pages VALUES (?, ?, ?, ?, ?)",
                                [(p.sha, pg.page, pg.label, pg.text,
                                  books.structure_json(pg.structure)) for pg in p.pages])

    def _write_files(self, files: Sequence[FileRecord], skipped: Sequence[Skipped]) -> None:
        sqlbooks.write_files(self.db, files, skipped)

    def _stats(self) -> dict:
        files = self.db.execute("SELECT count(*) FROM files f WHERE EXISTS "
                                "(SELECT 1 FROM contents c WHERE c.sha = f.sha)").fetchone()[0]
        chunks = self.db.execute("SELECT coalesce(sum(chunks), 0) FROM contents").fetchone()[0]
        return {"files": files, "chunks": chunks, "built_at": sqlbooks.now()}

    def _uid(self) -> str:
        """This index's own part of its collection names (two indexes with one prefix on one
        server never share a collection)."""
        uid = books.get_meta(self.db, "uid")
        if not uid:
            uid = uuid.uuid4().hex[:8]
            books.set_meta(self.db, "uid", uid)
        return uid

    def _finish(self) -> None:
        """Step (3) of a commit, also run by a writer that starts after a killed one: delete
        tombstoned rows, drop replaced collections, then forget both."""
        live = books.get_meta(self.db, "collection")
        dead = [r[0] for r in self.db.execute("SELECT sha FROM tombstones")]
        if dead and live:
            with col.errors(f"{self.where}: delete failed"):
                for at in range(0, len(dead), col.QUERY_BATCH):
                    self.client.delete(live, filter=col.sha_filter(dead[at:at + col.QUERY_BATCH]))
                self.client.flush(live)
        dropped = [r[0] for r in self.db.execute("SELECT collection FROM dropped")]
        with col.errors(f"{self.where}: drop failed"):
            present = set(self.client.list_collections()) if dropped else set()
            for name in dropped:
                if name in present and name != live:
                    self.client.drop_collection(name)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("DELETE FROM tombstones WHERE sha = ?", [(s,) for s in dead])
        self.db.executemany("DELETE FROM dropped WHERE collection = ?", [(n,) for n in dropped])
        self.db.execute("COMMIT")

    def _clean(self) -> None:
        """Before writing: remove what a killed writer left: rows of an unpublished commit
        (``gen`` above the committed one), and (in ``_finish``) collections it created or
        replaced. Only collections this index listed are ever dropped: other indexes may
        share the server and the prefix."""
        gen = books.generation(self.db)
        live = books.get_meta(self.db, "collection")
        if live and int(books.get_meta(self.db, "pending", "0")) > gen:
            log.info("deleting rows of an unfinished commit from %s", live)
            with col.errors(f"{self.where}: cannot clean collection {live}"):
                self.client.load_collection(live)
                self.client.delete(live, filter=f"gen > {gen}")
                self.client.flush(live)
        books.set_meta(self.db, "pending", str(gen))
        self._finish()
