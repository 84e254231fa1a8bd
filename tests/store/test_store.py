"""The embedded store: segments, tombstones, merges, corpus-wide BM25, snapshots, orphans, ANN.

Real files, real SQLite and real segment folders written by the real builder; the embedding
model is replaced by deterministic per-text vectors (these tests are about storage, and the
same text must get the same vector whatever batch it is encoded in).
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_env, docchat

from rag.index import Index
from rag.settings import Settings
from rag.store import open_store
from rag.store.local.segment import HNSW_FILE
from fakes import HashEmbedder

WORDS = ("river bridge council budget harbour vaccine orchard turbine museum railway storm "
         "festival manuscript canal winter copper village school market tunnel glacier "
         "pistachio lantern falcon meadow quarry ferry violin saffron beacon").split()
QUERIES = ["river bridge", "vaccine winter market", "copper tunnel quarry", "falcon",
           "saffron violin beacon festival", "glacier meadow ferry harbour"]
DIM = 16


def write_docs(folder: Path, n: int, seed: int, prefix: str = "doc") -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        sentences = [" ".join(rng.choices(WORDS, k=rng.randint(4, 14))).capitalize() + "."
                     for _ in range(rng.randint(1, 6))]
        p = folder / f"{prefix}-{i:03d}.txt"
        p.write_text(" ".join(sentences) + "\n")
        paths.append(p)
    return paths


def settings(root: Path, **kw) -> Settings:
    # merges at commit, so that a test sees their result when update returns (the background
    # path has its own tests below)
    base = dict(index_dir=str(root), merge_factor=3, merge_floor=4, chunk_tokens=40,
                chunk_overlap=0, merge_background=False)
    base.update(kw)
    return Settings(**base)


def update(root: Path, s: Settings, docs: Path):
    return Index(root, s, embedder=HashEmbedder(dim=DIM)).update([str(docs)])


def ranked(snap, scores: dict[int, float]) -> list[tuple[str, int, int, float]]:
    """(file name, page, start, score) best first: comparable across indexes whose chunk ids
    differ (ids are assigned in commit order)."""
    recs = {r.id: r for r in snap.chunks(list(scores))}
    rows = [(Path(recs[i].path).name, recs[i].page, recs[i].start, round(s, 9))
            for i, s in scores.items()]
    return sorted(rows, key=lambda r: (-r[3], r[:3]))


def test_scores_do_not_depend_on_how_the_corpus_was_split_into_segments(tmp_path):
    docs_one, docs_steps = tmp_path / "one", tmp_path / "steps"
    write_docs(docs_one, 40, seed=3)
    shutil.copytree(docs_one, docs_steps / "x")
    docs_steps = docs_steps / "x"
    one = tmp_path / "index-one"
    update(one, settings(one), docs_one)

    steps = tmp_path / "index-steps"
    s = settings(steps)
    staged = tmp_path / "staged"
    staged.mkdir()
    files = sorted(docs_steps.iterdir())
    for k in range(10):  # ten commits of four files each, plus a file added then removed
        for f in files[4 * k: 4 * k + 4]:
            shutil.copy(f, staged / f.name)
        if k == 4:
            (staged / "gone.txt").write_text("River bridge falcon saffron copper river river.")
        if k == 7:
            (staged / "gone.txt").unlink()
        update(steps, s, staged)
    snap_one, snap_steps = open_store(one).reader(), open_store(steps).reader()
    assert snap_steps.stats().chunks == snap_one.stats().chunks
    assert snap_one.stats().segments == 1 and snap_steps.stats().segments > 1
    for q in QUERIES:
        a = ranked(snap_one, snap_one.search_lexical(q, 1000))
        b = ranked(snap_steps, snap_steps.search_lexical(q, 1000))
        assert len(a) > 3 and [r[:3] for r in a] == [r[:3] for r in b], q
        assert np.allclose([r[3] for r in a], [r[3] for r in b], rtol=1e-9, atol=1e-12), q
        assert a[:10] == b[:10]
        qvec = HashEmbedder(dim=DIM).encode([q])[0]
        assert ranked(snap_one, snap_one.search_dense(qvec, 10)) == \
            ranked(snap_steps, snap_steps.search_dense(qvec, 10))




def test_a_deleted_or_changed_file_is_a_tombstone_until_a_merge_drops_it(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 10, seed=2)
    (docs / "target.txt").write_text("The glacier pistachio lantern is unique.")
    s = settings(root, merge_factor=50, merge_deletes=0.9)
    update(root, s, docs)
    (docs / "target.txt").write_text("Nothing about that any more, only a meadow.")
    update(root, s, docs)
    snap = open_store(root).reader()
    st = snap.stats()
    assert st.deleted == 1 and st.vectors == st.chunks == snap.count_chunks()
    texts = [r.text for r in snap.chunks(list(snap.search_lexical("glacier pistachio lantern",
                                                                  100)))]
    assert texts and not any("unique" in t for t in texts)
    old_vec = HashEmbedder(dim=DIM).encode(["The glacier pistachio lantern is unique."])[0]
    dense = snap.chunks(list(snap.search_dense(old_vec, 100)))
    assert not any("unique" in r.text for r in dense)
    # a low deletes threshold rewrites the segment without its dead rows
    (docs / "target.txt").unlink()
    update(root, settings(root, merge_factor=50, merge_deletes=0.01), docs)
    st = open_store(root).reader().stats()
    assert st.deleted == 0 and st.vectors == st.chunks


def test_size_tiered_merges_bound_the_segment_count_and_keep_every_chunk(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    s = settings(root, merge_factor=3, merge_floor=4)
    counts = []
    for k in range(12):
        write_docs(docs, 1, seed=100 + k, prefix=f"step{k:02d}")
        update(root, s, docs)
        counts.append(open_store(root).reader().stats().segments)
    snap = open_store(root).reader()
    st = snap.stats()
    assert max(counts) < 3 + 3  # never a full tier left unmerged at the end of a commit
    assert st.vectors == st.chunks == snap.count_chunks()
    assert sum(len(seg) for seg, _ in snap.segments()) == st.chunks
    assert {Path(d.path).name for d in snap.documents()} == \
        {p.name for p in docs.iterdir()}


def test_a_reader_keeps_its_snapshot_while_a_writer_commits_and_merges(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 6, seed=5)
    s = settings(root, merge_factor=2, merge_floor=2)
    update(root, s, docs)
    old = open_store(root).reader()
    want = ranked(old, old.search_lexical("river bridge canal", 50))
    old_segments = {seg.path for seg, _ in old.segments()}
    old_stats = old.stats()
    for k in range(4):  # commits that merge the old segments away, then remove their folders
        write_docs(docs, 2, seed=50 + k, prefix=f"more{k}")
        (docs / f"doc-00{k}.txt").unlink()
        update(root, s, docs)
    assert not any(p.exists() for p in old_segments), "the merges should have removed them"
    assert ranked(old, old.search_lexical("river bridge canal", 50)) == want
    assert old.stats() == old_stats and old.count_chunks() == old_stats.chunks
    new = open_store(root).reader()
    assert new.generation > old.generation and new.stats().files == old_stats.files + 4






def test_large_segments_get_hnsw_with_high_recall_and_deletes_respected(tmp_path):
    pytest.importorskip("faiss")
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 300, seed=9)
    s = settings(root, ann_min_vectors=200, merge_factor=50, chunk_tokens=200)  # a file, a chunk
    update(root, s, docs)
    snap = open_store(root).reader()
    (seg, live), = snap.segments()
    assert (seg.path / HNSW_FILE).exists() and len(seg) >= 200
    vecs = np.asarray(seg.vectors)
    rng = np.random.default_rng(0)
    recalls = []
    for _ in range(30):
        q = rng.standard_normal(DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = set(np.asarray(seg.ids)[np.argsort(-(vecs @ q))[:10]].tolist())
        recalls.append(len(exact & set(snap.search_dense(q, 10))) / 10)
    assert np.mean(recalls) >= 0.95
    victim = sorted(docs.iterdir())[0]
    qvec = HashEmbedder(dim=DIM).encode([victim.read_text().strip()])[0]
    assert Path(snap.chunks(list(snap.search_dense(qvec, 1)))[0].path).name == victim.name
    victim.unlink()
    update(root, s, docs)
    snap = open_store(root).reader()
    assert snap.segments()[0][0].hnsw is not None  # still the HNSW segment, with a tombstone
    found = snap.chunks(list(snap.search_dense(qvec, 5)))
    assert not any(Path(r.path).name == victim.name for r in found)


def test_a_format_1_index_is_rebuilt_from_its_own_folders_and_its_files_removed(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 3, seed=11)
    gen = root / "gen-000004"  # the generation-copy layout of format 1, as it left it
    gen.mkdir(parents=True)
    (gen / "manifest.json").write_text(json.dumps(
        {"format": 1, "model": "all-MiniLM-L6-v2", "dim": 384, "roots": [str(docs)],
         "chunker": {"version": 3, "tokens": 200, "overlap": 40}}))
    (root / "CURRENT").write_text("gen-000004\n")
    s = Index(root, settings(root), embedder=HashEmbedder(dim=DIM)).update(None)
    assert s.full_rebuild and s.reason.startswith("format changed") and len(s.added) == 3
    assert not gen.exists() and not (root / "CURRENT").exists()
    assert Index.open(root, settings(root)).status().roots == (str(docs.resolve()),)


def test_a_merge_factor_below_two_is_refused_in_one_line_naming_the_variable(tmp_path):
    proc = docchat("status", "--index", tmp_path / "i", env=clean_env(DOCCHAT_MERGE_FACTOR="1"))
    assert proc.returncode == 2  # a bad setting (rag.settings checks every range)
    assert proc.stderr.strip() == ("docchat: bad setting: DOCCHAT_MERGE_FACTOR=1: must be a "
                                   "number between 2 and 1000")


def test_the_merge_policy_folds_a_full_tier_and_rewrites_segments_full_of_deletes():
    from rag.store.local.merge_policy import MergePolicy, SegmentSize, candidates

    p = MergePolicy(factor=3, floor=100, deletes=0.3)
    small = [SegmentSize(f"s{i}", 50, 0) for i in range(2)]
    big = [SegmentSize(f"b{i}", 400, 10) for i in range(3)]  # tier 2: 390 live > 100 * 3
    assert candidates(small, p) == []
    assert candidates(small + [SegmentSize("s2", 100, 0)], p) == ["s0", "s1", "s2"]
    assert candidates(big + small, p) == ["b0", "b1", "b2"]
    assert candidates(small + [SegmentSize("d", 10, 3)], p) == ["d"]
