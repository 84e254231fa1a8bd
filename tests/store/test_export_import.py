"""``docchat export`` and ``docchat import`` on the command line (rag/cli/transfer.py): an index
exported, imported into milvus-lite, refused over an existing index without --replace, and a
file that is not an export refused in one line. (The export file itself, and a round trip
through milvus-lite search for search: tests/store/test_transfer.py.)

Real stores, the real builder and real files; the embedding model is replaced by deterministic
per-text vectors.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import clean_env
from test_store import HashEmbedder, write_docs

from rag.index import Index
from rag.settings import Settings

TESTS = Path(__file__).resolve().parents[1]


def settings(root: Path, store: str = "") -> Settings:
    return Settings(index_dir=str(root), store=store, chunk_tokens=40, chunk_overlap=0)


def test_cli_export_then_import_into_milvus_lite(tmp_path):
    docs = tmp_path / "docs"
    write_docs(docs, 3, seed=7)
    root = tmp_path / "index"
    Index(root, settings(root), embedder=HashEmbedder()).update([str(docs)])
    env = clean_env(PYTHONPATH=str(TESTS.parent))
    url = f"milvus://{tmp_path / 'm.db'}"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "rag", *map(str, args)], env=env,
                              capture_output=True, text=True, timeout=300)

    r = cli("export", "--index", root, tmp_path / "x.tar")
    assert r.returncode == 0, r.stderr
    r = cli("import", tmp_path / "x.tar", "--store", url, "--index", tmp_path / "other")
    assert r.returncode == 0, r.stderr
    assert "nothing re-embedded" in r.stdout
    r = cli("status", "--store", url, "--index", tmp_path / "other")
    assert r.returncode == 0, r.stderr
    assert "files:   3" in r.stdout and f"milvus-lite {tmp_path / 'm.db'}" in r.stdout
    r = cli("import", tmp_path / "x.tar", "--store", url, "--index", tmp_path / "other")
    assert r.returncode == 1 and "--replace" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.tar").write_bytes(b"not a tar")
    r = cli("import", tmp_path / "bad.tar", "--index", tmp_path / "third")
    assert r.returncode == 1 and "cannot read the export" in r.stderr
