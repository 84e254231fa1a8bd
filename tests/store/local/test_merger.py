"""Merges beside the writer (rag/store/local/merger.py): a merge never holds back a commit or a
reader, keeps every live chunk under its id, drops tombstoned rows with their tombstones, and
is abandoned when a full rebuild dropped its sources meanwhile.

Real files, SQLite and segment folders; vectors are deterministic per-text (tests/fakes.py)."""
from __future__ import annotations

from pathlib import Path

from test_store import DIM, QUERIES, ranked, settings, update, write_docs

from fakes import HashEmbedder
from rag.index import Index
from rag.store import open_store


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
