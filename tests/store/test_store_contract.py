"""The store contract (tests/store/contract.py) on every store backend: the same behaviour
whatever holds the index.

Backends, one test class each: the embedded FAISS store, milvus-lite (Milvus in this process,
a real Milvus implementation written by its own library), and a real Milvus server when
DOCCHAT_TEST_MILVUS_URI is set (e.g. milvus://127.0.0.1:19530; otherwise that class is
skipped, and says why). The real embedding model (loaded once per test process), real files,
the real indexing. Rank sets and top-1 results are asserted, never raw scores: BM25 statistics
differ between engines (milvus-lite even scores each of its segments with its own IDF).
The scope errors at the end need no backend: plain tests, on the FAISS store.
"""
from __future__ import annotations

import os
import uuid

import pytest
from contract import StoreContract, names, settings_for, write_docs

from rag import Settings, ask
from rag.index import Index
from rag.store_url import parse

pytestmark = pytest.mark.slow
SERVER = os.environ.get("DOCCHAT_TEST_MILVUS_URI", "")


class TestLocalStore(StoreContract):
    """The embedded FAISS store (segments + SQLite): the default, DOCCHAT_STORE unset."""

    @pytest.fixture
    def store_url(self):
        return ""


class TestMilvusLiteStore(StoreContract):
    """milvus-lite: a Milvus database in a folder, served by this process."""

    @pytest.fixture
    def store_url(self, tmp_path):
        url = f"milvus://{tmp_path / 'lite' / 'index.db'}"
        yield url
        _drop(url)


@pytest.mark.skipif(not SERVER, reason="no Milvus server: set "
                    "DOCCHAT_TEST_MILVUS_URI=milvus://host:19530 to run the contract against one")
class TestMilvusServerStore(StoreContract):
    """A Milvus server (DOCCHAT_TEST_MILVUS_URI): a fresh contract_* collection per test."""

    @pytest.fixture
    def store_url(self):
        url = f"{SERVER.split('?')[0]}?collection=contract_{uuid.uuid4().hex[:12]}"
        yield url
        _drop(url)


def _drop(url: str) -> None:
    from rag.store.milvus import release
    from rag.store.milvus.collection import connect

    parsed = parse(url)
    if not parsed.lite:  # leave nothing behind on a shared server
        client = connect(parsed, Settings.from_env())
        for name in client.list_collections():
            if name.startswith(parsed.collection + "_"):
                client.drop_collection(name)
    release(parsed)


def test_an_empty_or_unknown_scope_is_a_clear_error(tmp_path):
    from rag.errors import NotFoundError, QuestionError

    docs = write_docs(tmp_path / "docs")
    idx = Index(tmp_path / "index", settings_for(tmp_path, ""))
    idx.update([docs])
    with pytest.raises(QuestionError, match="names no document"):
        idx.search("bread", 3, documents=[])
    with pytest.raises(NotFoundError, match="no indexed document is 'nope.md'"):
        ask(idx, "What makes bread rise?", documents=["nope.md"])
    folder = idx.search("bread", 3, documents=[str(docs)])  # a folder: all its documents
    assert names(folder)[0] == "bread.txt"


def test_a_scope_naming_a_nul_byte_or_a_lone_surrogate_is_not_found(tmp_path):
    """The schema fuzzer's find: such a name made os.path.realpath raise (a 500)."""
    from rag.errors import NotFoundError

    docs = write_docs(tmp_path / "docs")
    idx = Index(tmp_path / "index", settings_for(tmp_path, ""))
    idx.update([docs])
    for bad in ("a\x00b", "\udaba^", "\x00"):
        with pytest.raises(NotFoundError, match="no indexed document"):
            idx.scope([bad])
