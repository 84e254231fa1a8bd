"""Moving an index between stores without embedding anything (rag/store/transfer.py): an export
file read back into any store gives the same search results and bookkeeping, a damaged or
foreign file is refused with the reason, and an existing index is kept unless replaced.

Real stores (FAISS + SQLite folders, milvus-lite in process); the embedding model is replaced
by deterministic per-text vectors that count their calls.
"""
from __future__ import annotations

from pathlib import Path

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
