"""The embedded store's one writer (rag/store/local/writer.py): a commit writes only what
changed, and nothing is visible before the commit's transaction; a commit that fails leaves the
previous state complete and readable, and the next writer removes what it left; deletes are
tombstones, reset drops everything at the next commit (and records the intent at once).

Real SQLite and segment folders, written straight through the writer with small random unit
vectors; the moved tests at the top go through Index with the text-hash embedder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_store import DIM, settings, update, write_docs

from fakes import HashEmbedder
from rag.index import Index
from rag.store import open_store
from rag.store.local import writer as writermod
from rag.store.protocol import ChunkerSettings, FileRecord, Manifest
from rag.types import Chunk, Page

MANIFEST = Manifest(2, "m", DIM, ChunkerSettings(1, 40, 0), ("/x",))


def unit(seed: int, n: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def doc(name: str, sentences: list[str]) -> tuple[list[Page], list[Chunk]]:
    """One page of ``sentences``, one chunk a sentence, at their exact offsets."""
    text = " ".join(sentences)
    chunks, at = [], 0
    for s in sentences:
        start = text.index(s, at)
        chunks.append(Chunk(page=1, start=start, end=start + len(s), text=s))
        at = start + len(s)
    return [Page(path=name, page=1, text=text)], chunks


def write(store, docs: dict[str, tuple[str, list[str], int]], delete=(), reset=False):
    """One commit: ``docs`` is {sha: (path, sentences, vector seed)}; the files listed are
    exactly those of ``docs`` plus the ones kept from before."""
    with store.writer() as w:
        if reset:
            w.reset()
        for sha in delete:
            w.delete(sha)
        for sha, (path, sentences, seed) in docs.items():
            pages, chunks = doc(path, sentences)
            w.upsert(sha, pages, chunks, unit(seed, len(chunks)))
        kept = [] if reset else [FileRecord(p, s, 1) for p, s in w.bookkeeping().files.items()
                                 if s not in delete and s not in docs]
        w.set_files(kept + [FileRecord(p, sha, 1) for sha, (p, _, _) in docs.items()], [])
        return w.commit(MANIFEST)


def live(snap) -> dict[str, np.ndarray]:
    """text -> vector of every live chunk, read from the segments and SQLite as a reader does."""
    ids = [int(i) for seg, alive in snap.segments() for i in np.asarray(seg.ids)[alive]]
    recs = snap.chunks(ids)
    assert len(recs) == len(ids), "a live segment row without its chunk row"
    vecs = snap.vectors(ids) if ids else np.zeros((0, DIM), np.float32)
    return {r.text: vecs[ids.index(r.id)] for r in recs}


def test_a_commit_writes_one_new_segment_and_leaves_the_others_untouched(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 12, seed=1)
    s = settings(root, merge_factor=50)
    update(root, s, docs)
    before = {p.name: {f.name: f.stat().st_mtime_ns for f in p.iterdir()}
              for p in root.glob("seg-*")}
    (docs / "new.txt").write_text("A falcon nests above the quarry.")
    summary = update(root, s, docs)
    assert summary.embedded == 1
    after = {p.name: {f.name: f.stat().st_mtime_ns for f in p.iterdir()}
             for p in root.glob("seg-*")}
    assert len(after) == len(before) + 1
    assert all(after[name] == files for name, files in before.items())
    snap = open_store(root).reader()
    top = snap.chunks(list(snap.search_lexical("falcon nests quarry", 1)))
    assert Path(top[0].path).name == "new.txt"


def test_the_next_writer_removes_segments_no_commit_references(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 4, seed=7)
    s = settings(root)
    update(root, s, docs)
    listed = {p.name for p in root.glob("seg-*")}
    for orphan in ("seg-000090.tmp", "seg-000091"):  # a killed write and a killed commit
        (root / orphan).mkdir()
        (root / orphan / "ids.npy").write_bytes(b"partial")
    Index.open(root, s).status()  # readers never touch them
    assert (root / "seg-000091").exists()
    update(root, s, docs)  # nothing changed: the writer still cleans up
    assert {p.name for p in root.glob("seg-*")} == listed


def test_chunk_context_and_structure_are_kept_and_returned_with_hits(tmp_path):
    root = tmp_path / "index"
    store = open_store(root, settings(root))
    page = Page(path="a.md", page=1, text="Guide\nRivers flow to the sea.",
                structure=((0, 5, 0),))
    chunk = Chunk(page=1, start=0, end=len(page.text), text=page.text, context="Guide",
                  structure=((0, 5, 0),))
    from rag.store import ChunkerSettings, FileRecord, Manifest
    with store.writer() as w:
        w.upsert("sha-a", [page], [chunk], HashEmbedder(dim=DIM).encode(["Guide\nRivers"]))
        w.set_files([FileRecord("a.md", "sha-a", 10)], [])
        w.commit(Manifest(2, "m", DIM, ChunkerSettings(1, 40, 0), ("/x",)))
    snap = store.reader()
    (rec,) = snap.chunks(list(snap.search_lexical("guide", 5)))
    assert (rec.context, rec.structure, rec.path) == ("Guide", ((0, 5, 0),), "a.md")
    assert rec.text == snap.page_text("a.md", 1)[rec.start:rec.end]


# -- new tests of the writer's contract ------------------------------------------------------

A = {"sha-a": ("a.txt", ["The river floods in spring.", "The bridge was closed."], 1)}
B = {"sha-b": ("b.txt", ["Falcons nest in the quarry."], 2)}


def test_a_commit_round_trips_pages_chunks_and_the_exact_vectors(tmp_path):
    store = open_store(tmp_path / "index", settings(tmp_path / "index"))
    stats = write(store, {**A, **B})
    assert (stats.files, stats.chunks, stats.vectors, stats.segments) == (2, 3, 3, 1)
    snap = store.reader()
    got = live(snap)
    want = unit(1, 2)
    assert set(got) == {"The river floods in spring.", "The bridge was closed.",
                        "Falcons nest in the quarry."}
    np.testing.assert_array_equal(got["The bridge was closed."], want[1])
    np.testing.assert_array_equal(got["Falcons nest in the quarry."], unit(2, 1)[0])
    top = snap.chunks(list(snap.search_dense(want[0], 1)))[0]
    assert (top.path, top.text) == ("a.txt", "The river floods in spring.")
    assert snap.page_text("a.txt", 1)[top.start:top.end] == top.text
    assert snap.manifest == MANIFEST


def test_nothing_is_visible_before_the_commit(tmp_path):
    store = open_store(tmp_path / "index", settings(tmp_path / "index"))
    write(store, A)
    with store.writer() as w:
        w.delete("sha-a")
        pages, chunks = doc("b.txt", B["sha-b"][1])
        w.upsert("sha-b", pages, chunks, unit(2, 1))
        snap = store.reader()  # opened while the writer holds its changes
        assert set(live(snap)) == {"The river floods in spring.", "The bridge was closed."}
        w.set_files([FileRecord("b.txt", "sha-b", 1)], [])
        w.commit(MANIFEST)
    assert set(live(store.reader())) == {"Falcons nest in the quarry."}


@pytest.mark.parametrize("point", ["segment-renamed", "before-commit"])
def test_a_commit_that_fails_leaves_the_previous_state_and_the_next_writer_cleans_up(
        tmp_path, monkeypatch, point):
    root = tmp_path / "index"
    store = open_store(root, settings(root))
    write(store, A)
    before = store.reader()
    want, gen = live(before), before.generation
    listed = {p.name for p in root.glob("seg-*")}

    def fail(at):
        if at == point:
            raise OSError(f"disk gone at {at}")
    monkeypatch.setattr(writermod.crash, "at", fail)
    with pytest.raises(OSError, match="disk gone"):
        write(store, B, delete=["sha-a"])
    monkeypatch.undo()
    snap = store.reader()
    assert snap.generation == gen
    got = live(snap)
    assert set(got) == set(want) and all(np.array_equal(got[t], want[t]) for t in want)
    assert snap.stats().deleted == 0 and snap.count_chunks() == 2
    assert store.unreferenced(), "the failed commit's segment is on disk, listed by nobody"
    write(store, {})  # the next writer removes it first
    assert {p.name for p in root.glob("seg-*")} == listed
    assert set(live(store.reader())) == set(want)


def test_a_deleted_or_replaced_content_is_gone_from_search_and_counted_as_deleted(tmp_path):
    store = open_store(tmp_path / "index", settings(tmp_path / "index", merge_factor=50))
    write(store, {**A, **B})
    old_vec = unit(2, 1)[0]
    stats = write(store, {"sha-b2": ("b.txt", ["Falcons left the quarry."], 3)},
                  delete=["sha-b"])
    assert (stats.chunks, stats.deleted, stats.vectors) == (3, 1, 3)
    snap = store.reader()
    assert "Falcons nest in the quarry." not in live(snap)
    found = snap.chunks(list(snap.search_dense(old_vec, 10)))
    assert "Falcons nest in the quarry." not in {r.text for r in found}
    assert [r.text for r in snap.chunks(list(snap.search_lexical("falcons", 10)))] == \
        ["Falcons left the quarry."]
    assert snap.bookkeeping().contents == {"sha-a", "sha-b2"}


def test_new_chunks_get_new_ids_never_reusing_deleted_ones(tmp_path):
    store = open_store(tmp_path / "index", settings(tmp_path / "index", merge_factor=50))
    write(store, A)
    snap = store.reader()
    old = {int(i) for seg, _ in snap.segments() for i in np.asarray(seg.ids)}
    assert len(old) == 2
    write(store, B, delete=["sha-a"])
    write(store, A)
    snap = store.reader()
    ids = [int(i) for seg, alive in snap.segments() for i in np.asarray(seg.ids)[alive]]
    assert len(ids) == len(set(ids)) == 3 and not old & set(ids)


def test_reset_drops_everything_at_the_commit_and_a_killed_rebuild_is_remembered(
        tmp_path, monkeypatch):
    root = tmp_path / "index"
    store = open_store(root, settings(root))
    write(store, {**A, **B})

    def die(at):
        if at == "before-commit":
            raise KeyboardInterrupt
    monkeypatch.setattr(writermod.crash, "at", die)
    with pytest.raises(KeyboardInterrupt):
        write(store, {"sha-c": ("c.txt", ["Only the canal remains."], 4)}, reset=True)
    monkeypatch.undo()
    snap = store.reader()
    assert len(live(snap)) == 3  # the old state, whole
    with store.writer() as w:
        assert w.bookkeeping().rebuild_pending
    stats = write(store, {"sha-c": ("c.txt", ["Only the canal remains."], 4)}, reset=True)
    assert (stats.files, stats.chunks, stats.deleted) == (1, 1, 0)
    assert set(live(store.reader())) == {"Only the canal remains."}
    with store.writer() as w:
        assert not w.bookkeeping().rebuild_pending


def test_mismatched_vectors_are_refused_before_anything_is_written(tmp_path):
    root = tmp_path / "index"
    store = open_store(root, settings(root))
    write(store, A)
    pages, chunks = doc("b.txt", ["One.", "Two."])
    with store.writer() as w:
        with pytest.raises(ValueError, match="2 chunks but 1 vectors"):
            w.upsert("sha-b", pages, chunks, unit(5, 1))
        with pytest.raises(ValueError, match="2 chunks but 0 vectors"):
            w.upsert("sha-b", pages, chunks, None)
        w.upsert("sha-b", pages, chunks, unit(5, 2, dim=DIM + 1))
        w.set_files([FileRecord("b.txt", "sha-b", 1)], [])
        with pytest.raises(ValueError, match="dimension"):
            w.commit(MANIFEST)
    assert set(live(store.reader())) == set(A["sha-a"][1])
    assert not store.unreferenced()
    assert store.generation() == 1
