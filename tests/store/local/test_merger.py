"""Merges beside the writer (rag/store/local/merger.py): a merge never holds back a commit or a
reader, keeps every live chunk under its id, drops tombstoned rows with their tombstones, and
is abandoned when a full rebuild dropped its sources meanwhile; one merger at a time.

Real files, SQLite and segment folders; vectors are deterministic per-text (tests/fakes.py) or
small random ones written straight through the store's writer."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from test_store import DIM, QUERIES, ranked, settings, update, write_docs

from fakes import HashEmbedder
from rag.index import Index
from rag.store import open_store
from rag.store.local import LocalStore, merger
from rag.store.local.layout import DB, MERGE_LOCK, try_lock
from rag.store.local.merge_policy import MergePolicy
from rag.store.local.segment_write import AnnSettings
from rag.store.protocol import ChunkerSettings, FileRecord, Manifest
from rag.types import Chunk, Page


def test_a_merge_runs_beside_the_writer_and_readers_without_holding_either_back(
        tmp_path, monkeypatch):
    """The merge a commit makes due runs in a background thread: the commit is visible at once,
    a later write commits and is visible while the merge is still running (it is held at a
    gate here, so the order is certain, not timed), a reader opened before keeps its answers,
    and the merged index answers as one built without merges."""
    import threading

    from rag.store.local import segment_write as segwrite

    docs, root = tmp_path / "docs", tmp_path / "index"
    s = settings(root, merge_factor=3, merge_floor=1000, merge_background=True)
    write_docs(docs, 4, seed=21)
    update(root, s, docs)
    write_docs(docs, 2, seed=22, prefix="b")
    update(root, s, docs)
    old = open_store(root).reader()
    want_old = {q: ranked(old, old.search_lexical(q, 50)) for q in QUERIES}
    doomed = next(r.id for r in old.chunks(list(old.search_lexical("river", 50)))
                  if Path(r.path).name == "doc-000.txt")

    started, gate = threading.Event(), threading.Event()
    real_merge = segwrite.merge

    def gated_merge(*args, **kwargs):
        started.set()
        gate.wait(60)  # the test opens it; a timeout only keeps a broken run from hanging
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(segwrite, "merge", gated_merge)
    write_docs(docs, 2, seed=23, prefix="c")
    update(root, s, docs)  # a third segment of the lowest tier: a merge is due
    assert started.wait(30), "the commit did not start a merge"
    mid = open_store(root).reader()
    assert mid.stats().segments == 3 and mid.stats().files == 8  # the commit is visible

    (docs / "late.txt").write_text("A lantern over the glacier, written while merging.\n")
    (docs / "doc-000.txt").unlink()  # its chunks are in a segment the merge is copying
    update(root, s, docs)
    during = open_store(root).reader()
    assert not gate.is_set() and during.stats().segments == 4, "the write waited for the merge"
    top = during.chunks(list(during.search_lexical("lantern glacier merging", 1)))
    assert Path(top[0].path).name == "late.txt"
    assert doomed not in during.search_lexical("river", 1000)
    assert {q: ranked(old, old.search_lexical(q, 50)) for q in QUERIES} == want_old

    gate.set()
    open_store(root).wait_merges()
    after = open_store(root).reader()
    st = after.stats()
    assert st.segments == 2  # the three merged into one, beside the late commit's segment
    assert st.chunks == st.vectors == after.count_chunks()
    # the delete made during the merge applies to the merged segment (chunk ids are kept)
    assert doomed not in after.search_lexical("river", 1000)
    assert not any(Path(r.path).name == "doc-000.txt" for r in after.chunks(
        list(after.search_dense(HashEmbedder(dim=DIM).encode(["river"])[0], 1000))))
    assert {q: ranked(old, old.search_lexical(q, 50)) for q in QUERIES} == want_old
    ref = tmp_path / "reference"
    update(ref, settings(ref), docs)
    one = open_store(ref).reader()
    for q in QUERIES:
        assert ranked(after, after.search_lexical(q, 50)) == ranked(one, one.search_lexical(q, 50))
        qv = HashEmbedder(dim=DIM).encode([q])[0]
        assert ranked(after, after.search_dense(qv, 10)) == ranked(one, one.search_dense(qv, 10))


def test_a_merge_whose_sources_a_full_rebuild_dropped_is_abandoned(tmp_path, monkeypatch):
    import threading

    from rag.store.local import segment_write as segwrite

    docs, root = tmp_path / "docs", tmp_path / "index"
    s = settings(root, merge_factor=2, merge_floor=1000, merge_background=True)
    write_docs(docs, 3, seed=31)
    update(root, s, docs)
    started, gate = threading.Event(), threading.Event()
    real_merge = segwrite.merge

    def gated_merge(*args, **kwargs):
        started.set()
        gate.wait(60)
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(segwrite, "merge", gated_merge)
    write_docs(docs, 1, seed=32, prefix="b")
    update(root, s, docs)
    assert started.wait(30)
    monkeypatch.setattr(segwrite, "merge", real_merge)
    summary = Index(root, s, embedder=HashEmbedder(dim=DIM)).update([str(docs)], full=True)
    assert summary.full_rebuild
    gate.set()
    open_store(root).wait_merges()
    snap = open_store(root).reader()
    st = snap.stats()
    assert st.files == 4 and st.chunks == st.vectors == snap.count_chunks()
    assert st.segments == 1  # the rebuild's own segment, not the abandoned merge's
    update(root, s, docs)  # a later writer removes what the abandoned merge and rebuild left
    assert open_store(root).unreferenced() == []


MANIFEST = Manifest(2, "random", DIM, ChunkerSettings(1, 40, 0))
NO_ANN = AnnSettings(10**6, 8, 16, 16)


class Small:
    """An embedded store whose commits never merge by themselves (the tests call the merger):
    each commit adds documents of a few chunks with random vectors, or deletes some."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = LocalStore(root, settings(root))
        # a policy no setting can give: nothing is ever due at a commit (deletes above 100%)
        self.store._merges = merger.MergeConfig(MergePolicy(10**6, 10**9, 2.0), NO_ANN, False)
        self.rng = np.random.default_rng(0)
        self.files: dict[str, str] = {}

    def commit(self, add: list[str] = (), delete: list[str] = ()) -> None:
        with self.store.writer() as w:
            for name in add:
                words = [f"{name} word{k} shared" for k in range(3)]
                text = " ".join(words)
                chunks = [Chunk(page=1, start=text.index(t), end=text.index(t) + len(t), text=t)
                          for t in words]
                vecs = self.rng.standard_normal((3, DIM)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                w.upsert(f"sha-{name}", [Page(path="", page=1, text=text)], chunks, vecs)
                self.files[name] = f"sha-{name}"
            for name in delete:
                w.delete(self.files.pop(name))
            w.set_files([FileRecord(f"{n}.txt", sha, 1) for n, sha in self.files.items()], [])
            w.commit(MANIFEST)

    def answers(self, reader=None) -> dict:
        """Every live chunk by id: its text and vector; and what two searches return."""
        snap = reader or self.store.reader()
        ids = sorted(i for seg, live in snap.segments() for i in np.asarray(seg.ids)[live])
        q = np.ones(DIM, np.float32) / np.sqrt(DIM)
        return {"chunks": [(r.id, r.path, r.text) for r in snap.chunks(ids)],
                "vectors": snap.vectors(ids).round(6).tolist() if ids else [],
                "dense": sorted(snap.search_dense(q, 5).items()),
                "lexical": sorted(snap.search_lexical("shared word1", 5).items())}

    def table(self, sql: str) -> list:
        db = sqlite3.connect(self.root / DB)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()


def config(factor: int = 3, deletes: float = 0.5) -> merger.MergeConfig:
    return merger.MergeConfig(MergePolicy(factor, 1000, deletes), NO_ANN, background=False)


def test_a_merge_folds_the_due_segments_into_one_and_every_answer_stays(tmp_path):
    s = Small(tmp_path / "index")
    for k in range(3):
        s.commit(add=[f"d{k}a", f"d{k}b"])
    s.commit(delete=["d1a"])  # a tombstone in the second segment's rows
    before, old = s.answers(), s.store.reader()
    sources = {r[0] for r in s.table("SELECT name FROM segments")}
    gen = s.store.generation()
    dead = [r[0] for r in s.table("SELECT id FROM tombstones")]
    assert len(sources) == 3 and len(dead) == 3

    assert merger.run(s.root, config(deletes=0.9)) == 1
    after = s.store.reader()
    (seg, live), = after.segments()
    assert live.all() and len(seg) == 15  # six documents of three chunks, less the deleted
    assert not set(dead) & set(np.asarray(seg.ids).tolist())
    assert s.table("SELECT id FROM tombstones") == []  # the rows are gone, so are their marks
    assert s.store.generation() == gen + 1
    assert {r[0] for r in s.table("SELECT name FROM retired")} == sources
    assert s.answers() == before
    # the sources are retired, not removed: a reader opened before keeps its answers
    assert all((s.root / name).is_dir() for name in sources)
    assert s.answers(old) == before
    assert merger.run(s.root, config(deletes=0.9)) == 0  # nothing more is due


def test_a_segment_whose_rows_are_all_deleted_is_dropped_not_rewritten_empty(tmp_path):
    s = Small(tmp_path / "index")
    s.commit(add=["keep"])
    s.commit(add=["gone"])
    s.commit(delete=["gone"])
    (doomed,) = [n for n, in s.table("SELECT name FROM segments") if n != "seg-000001"]
    assert merger.dead_per_segment(s.store.reader().db, s.root, ["seg-000001", doomed]) == \
        {"seg-000001": 0, doomed: 3}
    folders = {p.name for p in s.root.glob("seg-*")}
    assert merger.run(s.root, config(factor=10, deletes=0.5)) == 1
    assert s.table("SELECT name, rows FROM segments") == [("seg-000001", 3)]
    assert s.table("SELECT id FROM tombstones") == []
    assert {p.name for p in s.root.glob("seg-*")} == folders  # no empty target left behind
    snap = s.store.reader()
    assert snap.stats().vectors == snap.stats().chunks == 3
    assert {r.path for r in snap.chunks(list(snap.search_lexical("shared", 10)))} == {"keep.txt"}


def test_one_merger_at_a_time_and_one_that_need_not_wait_returns_at_once(tmp_path):
    s = Small(tmp_path / "index")
    for k in range(3):
        s.commit(add=[f"d{k}"])
    with try_lock(s.root, MERGE_LOCK) as held:  # another merger, in this or another process
        assert held
        assert merger.run(s.root, config(), wait=False) == 0
        assert len(s.table("SELECT name FROM segments")) == 3
    assert merger.run(s.root, config(), wait=False) == 1
    assert len(s.table("SELECT name FROM segments")) == 1


def test_a_scheduled_merge_runs_in_the_background_and_wait_returns_when_it_is_done(tmp_path):
    s = Small(tmp_path / "index")
    for k in range(3):
        s.commit(add=[f"d{k}"])
    before = s.answers()
    merger.schedule(s.root, merger.MergeConfig(MergePolicy(3, 1000, 0.5), NO_ANN, True))
    merger.wait(s.root)
    assert len(s.table("SELECT name FROM segments")) == 1
    assert s.answers() == before
    assert s.root.resolve() not in merger._threads  # the thread ended and was forgotten
