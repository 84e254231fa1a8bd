"""The Milvus backend's own guarantees, on milvus-lite (a real Milvus implementation, in
process): a killed writer never makes a half-written commit searchable, the next writer cleans
up after it, store URLs parse or are refused with a reason, and a lite database held by another
process is a one-line error.

Writers run in subprocesses killed with ``os._exit`` at a chosen point of a commit (a
monkeypatch inside the child: the product has no kill hook). milvus-lite serves one process at
a time, so the test process opens the database only between children and releases it after.
The embedding model is replaced by deterministic per-text vectors (storage tests).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_env
from test_store import write_docs

from rag.errors import DocchatError, SettingsError
from rag.settings import Settings
from rag.store import open_store
from rag.store_url import parse

TESTS = Path(__file__).resolve().parents[1]
KILLED = 9
CHILD = r"""
import os, sys
sys.path[:0] = [{tests!r}, {tests!r} + "/store"]
from test_store import HashEmbedder
from rag.index import Index
from rag.settings import Settings
from rag.store.milvus.writer import MilvusWriter

point, root, url, docs, tokens = sys.argv[1:6]
if point == "after-insert":  # rows are in Milvus, the bookkeeping commit has not run
    insert = MilvusWriter._insert
    def _insert(self, *a, **k):
        out = insert(self, *a, **k)
        os._exit({killed})
    MilvusWriter._insert = _insert
elif point == "after-publish":  # committed, but the deleted contents' rows are still there
    clean = MilvusWriter._clean
    def _clean(self):
        clean(self)
        self._finish = lambda: os._exit({killed})
    MilvusWriter._clean = _clean
s = Settings(index_dir=root, store=url, chunk_tokens=int(tokens), chunk_overlap=0)
Index(root, s, embedder=HashEmbedder()).update([docs])
"""


def run_writer(point: str, root: Path, url: str, docs: Path, tokens: int = 40) -> int:
    code = CHILD.format(tests=str(TESTS), killed=KILLED)
    r = subprocess.run([sys.executable, "-c", code, point, str(root), url, str(docs),
                        str(tokens)],
                       env=clean_env(PYTHONPATH=str(TESTS.parent)), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode in (0, KILLED), r.stderr[-2000:]
    return r.returncode


class Look:
    """What a reader in this process sees, plus the rows Milvus physically holds."""

    def __init__(self, root: Path, url: str) -> None:
        from rag.store.milvus import release

        s = Settings(index_dir=str(root), store=url)
        snap = open_store(root, s).reader()
        try:
            self.stats = snap.stats()
            every = snap.search_dense(np.ones(16, np.float32) / 4, 10_000)
            self.visible = sorted({Path(r.path).name for r in snap.chunks(list(every))})
            self.n_visible = len(every)
            self.lexical = {Path(r.path).name for r in
                            snap.chunks(list(snap.search_lexical("quokka zephyr", 50)))}
            rows = snap.client.query(snap.collection, filter="",
                                     output_fields=["count(*)"])
            self.physical = int(rows[0]["count(*)"])
            self.collections = sorted(snap.client.list_collections())
        finally:
            snap.close()
            release(parse(url))


def test_a_killed_writer_never_makes_half_a_commit_searchable(tmp_path):
    url = f"milvus://{tmp_path / 'lite.db'}"
    root, docs = tmp_path / "index", tmp_path / "docs"
    write_docs(docs, 4, seed=3)
    assert run_writer("none", root, url, docs) == 0
    base = Look(root, url)
    assert base.n_visible == base.stats.chunks == base.physical

    # killed after its rows reached Milvus, before the bookkeeping commit
    (docs / "new.txt").write_text("Quokka zephyr quokka. " * 30)
    assert run_writer("after-insert", root, url, docs) == KILLED
    seen = Look(root, url)
    assert seen.physical > base.physical  # the new rows are in Milvus...
    assert seen.stats == base.stats  # ...but the committed state is the old one
    assert seen.n_visible == base.stats.chunks and "new.txt" not in seen.visible
    assert seen.lexical == set()

    # the next writer removes the orphans and commits the file once
    assert run_writer("none", root, url, docs) == 0
    done = Look(root, url)
    assert "new.txt" in done.visible and done.lexical == {"new.txt"}
    assert done.n_visible == done.stats.chunks == done.physical

    # killed after the publish point, before the removed file's rows are deleted
    (docs / "new.txt").unlink()
    assert run_writer("after-publish", root, url, docs) == KILLED
    after = Look(root, url)
    assert after.stats.chunks == base.stats.chunks
    assert after.physical == done.physical  # rows of the removed file are still stored...
    assert "new.txt" not in after.visible and after.lexical == set()  # ...and never found
    assert after.n_visible == after.stats.chunks

    # a no-change run finishes the delete
    assert run_writer("none", root, url, docs) == 0
    final = Look(root, url)
    assert final.n_visible == final.stats.chunks == final.physical == base.physical

    # a rebuild (chunker change) writes a new collection; killed before its publish point,
    # readers keep the old one and the next writer drops the orphan
    assert run_writer("after-insert", root, url, docs, tokens=80) == KILLED
    rebuilt = Look(root, url)
    assert rebuilt.stats == final.stats and rebuilt.n_visible == final.n_visible
    assert len(rebuilt.collections) == 2 and final.collections[0] in rebuilt.collections
    assert run_writer("none", root, url, docs) == 0
    assert Look(root, url).collections == final.collections


@pytest.mark.parametrize("url, kind, uri", [
    ("", "faiss", ""),
    ("faiss:///srv/idx", "faiss", ""),
    ("milvus:///srv/x.db", "milvus", "/srv/x.db"),
    ("milvus://db.example:19530", "milvus", "http://db.example:19530"),
    ("milvus://db.example", "milvus", "http://db.example:19530"),
    ("milvus+https://cloud.example:443?collection=team_a", "milvus", "https://cloud.example:443"),
])
def test_store_urls_name_their_backend(url, kind, uri):
    p = parse(url)
    assert (p.kind, p.uri) == (kind, uri)


@pytest.mark.parametrize("url", ["mongo://x", "milvus:///srv/x", "milvus://u:pw@host:19530",
                                 "milvus://host:99999", "milvus://host/path",
                                 "milvus://host?collection=bad-name", "faiss://host/x"])
def test_a_bad_store_url_is_one_line_naming_the_variable(url):
    with pytest.raises(SettingsError) as e:
        Settings(store=url)
    assert str(e.value).startswith("DOCCHAT_STORE=") and "\n" not in str(e.value)


def test_bad_store_url_from_the_environment_stops_the_cli_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rag", "status", "--index", str(tmp_path)],
                       env=clean_env(DOCCHAT_STORE="milvus://host/x", PYTHONPATH=str(TESTS.parent)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "DOCCHAT_STORE='milvus://host/x'" in r.stderr


def test_a_lite_database_open_in_another_process_is_a_clear_error(tmp_path):
    url = f"milvus://{tmp_path / 'held.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pymilvus import MilvusClient; "
         f"MilvusClient({str(tmp_path / 'held.db')!r}); print('open', flush=True); "
         "time.sleep(120)"], stdout=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert holder.stdout.readline().strip() == "open"
        s = Settings(index_dir=str(tmp_path / "index"), store=url)
        with pytest.raises(DocchatError, match="another process has it open"):
            with open_store(tmp_path / "index", s).writer():
                pass
    finally:
        holder.kill()
        holder.wait()
    from rag.store.milvus import release

    release(parse(url))


def test_milvus_is_not_imported_by_the_default_product(tmp_path):
    code = ("import sys; from rag.index import Index; from rag.settings import Settings; "
            f"Index({str(tmp_path)!r}, Settings()).status(); "
            "print(json.dumps(sorted(m for m in sys.modules if 'milvus' in m)))")
    r = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True,
                       text=True, env=clean_env(PYTHONPATH=str(TESTS.parent)), timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


@pytest.mark.slow
def test_cli_index_ask_and_status_work_on_a_milvus_store(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    seed = TESTS.parent / "seeds" / "crocus-city-hall-attack.txt"
    (seeds / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    env = clean_env(PYTHONPATH=str(TESTS.parent),
                    DOCCHAT_STORE=f"milvus://{tmp_path / 'm.db'}")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "rag", *map(str, args), "--index",
                               tmp_path / "index"], env=env, capture_output=True, text=True,
                              timeout=600)

    r = cli("index", seeds)
    assert r.returncode == 0, r.stderr
    r = cli("ask", "How many people died?", "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert not answer["abstained"] and "133" in answer["answer"]
    r = cli("status")
    assert r.returncode == 0 and f"milvus-lite {tmp_path / 'm.db'}" in r.stdout
    assert not (tmp_path / "index" / "meta.sqlite").exists()  # nothing went to a FAISS store


def test_chunks_without_vectors_are_refused_with_the_reason_not_a_type_error():
    """As the local writer (tests/store/local/test_writer.py): the check's own message was
    built with len(None) and raised a TypeError instead."""
    from types import SimpleNamespace

    from rag.store.milvus.writer import MilvusWriter
    from rag.types import Chunk

    chunks = [Chunk(page=1, start=0, end=len(t), text=t) for t in ("One.", "Two.")]
    pending = SimpleNamespace(_pending=[])  # the check runs before the writer's state is used
    with pytest.raises(ValueError, match="2 chunks but 0 vectors for sha-a"):
        MilvusWriter.upsert(pending, "sha-a", [], chunks, None)
    with pytest.raises(ValueError, match="2 chunks but 1 vectors"):
        MilvusWriter.upsert(pending, "sha-a", [], chunks, np.zeros((1, 4), np.float32))
    assert pending._pending == []
