"""Moving an index between stores without embedding anything (rag/store/transfer.py): an export
file read back into any store gives the same search results and bookkeeping, a damaged or
foreign file is refused with the reason, and an existing index is kept unless replaced.

Real stores (FAISS + SQLite folders, milvus-lite in process); the embedding model is replaced
by deterministic per-text vectors that count their calls.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from test_store import QUERIES, HashEmbedder, write_docs

from rag import indexing, retrieval
from rag.embedding.local import Embedder
from rag.index import Index
from rag.settings import Settings
from rag.store import open_store, transfer
from rag.store_url import parse


def settings(root: Path, store: str = "") -> Settings:
    return Settings(index_dir=str(root), store=store, chunk_tokens=40, chunk_overlap=0)


def view(snap, embedder) -> dict:
    """Everything a user can observe of a snapshot, with chunks named by (file, page, start)
    rather than by id."""
    def named(scores: dict[int, float]) -> list[tuple]:
        order = sorted(scores, key=lambda c: (-scores[c], c))
        recs = {r.id: r for r in snap.chunks(order)}
        return [(Path(recs[c].path).name, recs[c].page, recs[c].start) for c in order]

    s = settings(Path("unused"))
    out = {"documents": [(Path(d.path).name, d.sha, d.pages, d.chunks, d.size)
                         for d in snap.documents()],
           "bookkeeping": snap.bookkeeping(), "skipped": snap.skipped(),
           "manifest": snap.manifest, "chunks": snap.stats().chunks}
    for q in QUERIES:
        dense = snap.search_dense(embedder.encode([q])[0], 10)
        out[("dense", q)] = named(dense)
        out[("dense ids", q)] = sorted(dense, key=lambda c: (-dense[c], c))  # kept by import
        out[("lexical", q)] = named(snap.search_lexical(q, 10))
        out[("hybrid", q)] = [(Path(h.path).name, h.page, h.start, h.end, h.text)
                              for h in retrieval.search(snap, embedder, q, 5, s)]
    return out


def test_faiss_to_milvus_lite_to_faiss_keeps_search_and_embeds_nothing(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    write_docs(docs, 12, seed=5)
    (docs / "notes.md").write_text("# Harbour\n\n## Ferry\n\nThe ferry leaves the harbour "
                                   "at dawn. Falcon and beacon.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")  # a skipped file travels too
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    lite = f"milvus://{tmp_path / 'm' / 'lite.db'}"
    queries = HashEmbedder()
    Index(a_root, settings(a_root), embedder=queries).update([str(docs)])

    calls = []
    monkeypatch.setattr(Embedder, "encode", lambda self, *a, **k: calls.append(a))
    monkeypatch.setattr(Embedder, "shared", classmethod(lambda *a, **k: calls.append(a)))

    a = open_store(a_root, settings(a_root)).reader()
    first = transfer.export(a, tmp_path / "a.tar")
    m_store = open_store(tmp_path / "m-index", settings(tmp_path / "m-index", lite))
    transfer.import_into(m_store, tmp_path / "a.tar")
    m = m_store.reader()
    transfer.export(m, tmp_path / "m.tar")
    b_store = open_store(b_root, settings(b_root))
    second = transfer.import_into(b_store, tmp_path / "m.tar")
    b = b_store.reader()
    assert calls == []  # nothing embedded, no model loaded
    assert first == second and first.chunks > len(QUERIES)

    va, vm, vb = view(a, queries), view(m, queries), view(b, queries)
    assert va == vb  # the round trip is exact
    assert va["skipped"] and va["bookkeeping"].bad  # the skipped PDF came along
    # milvus-lite holds the same documents, bookkeeping and vectors (the same dense ranking);
    # its BM25 is its own, so lexical and hybrid rankings are the contract suite's business
    same = [k for k in va if k[0] not in ("lexical", "hybrid")]
    assert {k: vm[k] for k in same} == {k: va[k] for k in same}
    for d in a.documents():
        assert b.page_text(d.path, 1) == m.page_text(d.path, 1) == a.page_text(d.path, 1) != ""

    # the imported index is a normal index: a no-change update re-embeds nothing
    s = indexing.update(b_root, settings(b_root), None,
                       embedder_factory=lambda _: pytest.fail("nothing should be embedded"))
    assert (s.embedded, s.added, s.updated, s.removed) == (0, (), (), ())
    from rag.store.milvus import release

    release(parse(lite))


def built(tmp_path: Path, name: str = "a", n: int = 5, seed: int = 5):
    """An embedded index of ``n`` generated files, a non-ASCII one and a skipped PDF."""
    docs, root = tmp_path / f"docs-{name}", tmp_path / name
    write_docs(docs, n, seed=seed, prefix=name)
    (docs / "üñï.txt").write_text("Ünïcode “quotes”, a tab\there and\na second line — "
                                 "\"escaped\" \\ too.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    Index(root, settings(root), embedder=HashEmbedder()).update([str(docs)])
    return open_store(root, settings(root))


def held(snap) -> dict:
    """Every content as the store holds it, by sha: pages, chunks, vectors and id order."""
    out = {}
    for sha in snap.bookkeeping().contents:
        c = snap.content(sha)
        out[sha] = (c.pages, c.chunks, c.vectors.tobytes(), len(c.ids))
    return out


def test_an_export_imported_into_another_folder_holds_exactly_the_same(tmp_path):
    a = built(tmp_path).reader()
    summary = transfer.export(a, tmp_path / "x.tar")
    assert not (tmp_path / "x.tar.tmp").exists()
    target = open_store(tmp_path / "b", settings(tmp_path / "b"))
    assert transfer.import_into(target, tmp_path / "x.tar") == summary
    b = target.reader()
    assert summary.files == 7 and summary.contents == 6 and summary.chunks == a.stats().chunks
    assert held(b) == held(a)  # the non-ASCII text, its pages, chunks and vectors to the bit
    assert b.bookkeeping() == a.bookkeeping()  # sizes and mtimes: an update re-reads nothing
    assert (b.skipped(), b.manifest) == (a.skipped(), a.manifest)
    assert [(d.path, d.sha, d.pages, d.chunks, d.size) for d in b.documents()] == \
        [(d.path, d.sha, d.pages, d.chunks, d.size) for d in a.documents()]
    order = {sha: min(a.content(sha).ids) for sha in a.bookkeeping().contents}
    assert sorted(order, key=order.get) == sorted(  # contents keep their commit order
        order, key=lambda sha: min(b.content(sha).ids))
    for q in QUERIES:
        vec = HashEmbedder().encode([q])[0]
        assert b.search_dense(vec, 5) == a.search_dense(vec, 5)
        assert b.search_lexical(q, 5) == a.search_lexical(q, 5)


def test_an_existing_index_is_kept_unless_replace_is_asked(tmp_path):
    transfer.export(built(tmp_path, "a").reader(), tmp_path / "a.tar")
    target = built(tmp_path, "b", n=2, seed=9)
    before = held(target.reader())
    with pytest.raises(transfer.ExportError, match="--replace"):
        transfer.import_into(target, tmp_path / "a.tar")
    assert held(target.reader()) == before
    transfer.import_into(target, tmp_path / "a.tar", replace=True)
    now = target.reader()
    assert held(now) == held(open_store(tmp_path / "a", settings(tmp_path / "a")).reader())
    assert not any(d.path.startswith(str(tmp_path / "docs-b")) for d in now.documents())


def rewrite(src: Path, dst: Path, **members: bytes | None) -> Path:
    """A copy of the export ``src`` with ``members`` replaced (None: left out)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for info in tin.getmembers():
            data = members.get(info.name.replace(".", "_"), tin.extractfile(info).read())
            if data is None:
                continue
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
    return dst


@pytest.mark.parametrize("damage,reason", [
    ("not a tar", "cannot read the export"),
    ("other kind", "not a docchat export"),
    ("newer version", "not a docchat export"),
    ("no vectors", "cannot read the export"),
    ("vectors cut", "the file is damaged"),
])
def test_a_damaged_or_foreign_file_is_refused_with_the_reason_and_nothing_written(
        tmp_path, damage, reason):
    transfer.export(built(tmp_path).reader(), tmp_path / "x.tar")
    bad = tmp_path / "bad.tar"
    if damage == "not a tar":
        bad.write_bytes(b"PK\x03\x04 a zip, say")
    elif damage in ("other kind", "newer version"):
        meta = {"kind": "docchat-export", "version": transfer.VERSION + 1} \
            if damage == "newer version" else {"kind": "something-else", "version": 1}
        rewrite(tmp_path / "x.tar", bad, meta_json=json.dumps(meta).encode())
    elif damage == "no vectors":
        rewrite(tmp_path / "x.tar", bad, vectors_npy=None)
    else:
        buf = io.BytesIO()
        np.save(buf, np.zeros((1, 16), np.float32))
        rewrite(tmp_path / "x.tar", bad, vectors_npy=buf.getvalue())
    target = open_store(tmp_path / "t", settings(tmp_path / "t"))
    with pytest.raises(transfer.ExportError) as refused:
        transfer.import_into(target, bad)
    assert reason in str(refused.value) and str(bad) in str(refused.value)
    assert "\n" not in str(refused.value)  # one line (tarfile's own reason ran over five)
    assert not target.exists()


def test_a_failed_export_keeps_the_previous_file_and_leaves_no_partial_one(tmp_path,
                                                                          monkeypatch):
    """A full disk, say, while the tar is written: the file at the path is the last good
    export, and no partial temporary file is left to hold the space."""
    snap = built(tmp_path).reader()
    transfer.export(snap, tmp_path / "x.tar")
    good = (tmp_path / "x.tar").read_bytes()
    real = tarfile.TarFile.addfile

    def full_disk(self, info, fileobj=None):
        if info.name == "contents.jsonl":
            raise OSError(28, "No space left on device")
        return real(self, info, fileobj)

    monkeypatch.setattr(tarfile.TarFile, "addfile", full_disk)
    with pytest.raises(transfer.ExportError, match=r"cannot write .*x\.tar: No space left"):
        transfer.export(snap, tmp_path / "x.tar")
    assert (tmp_path / "x.tar").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("x.tar")) == ["x.tar"]
