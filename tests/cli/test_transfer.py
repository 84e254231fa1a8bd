"""``docchat export`` and ``docchat import`` on the command line (rag/cli/transfer.py): an index
exported, imported into milvus-lite, refused over an existing index without --replace, and a
file that is not an export refused in one line; in process (rag.cli.main), what each command
says and its exit code: a missing index, --replace, an export path that cannot be written.
(The export file itself, and a round trip through milvus-lite search for search:
tests/store/test_transfer.py.) A package (tests/cli/__init__.py) since that file shares the
name.

Real stores, the real builder and real files; the embedding model is replaced by deterministic
per-text vectors.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import clean_env
from fakes import HashEmbedder
from store.test_store import write_docs

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


# -- in process: what each command says, and its exit code ------------------------------------

def run(capsys, *args) -> tuple[int, str, str]:
    from rag.cli import main

    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def built(tmp_path: Path, n: int = 3) -> tuple[Path, int]:
    docs = tmp_path / "docs"
    write_docs(docs, n, seed=11)
    root = tmp_path / "index"
    done = Index(root, settings(root), embedder=HashEmbedder()).update([str(docs)])
    return root, done.chunks


def test_export_and_import_report_what_they_moved(tmp_path, capsys):
    root, chunks = built(tmp_path)
    tar = tmp_path / "x.tar"
    rc, out, err = run(capsys, "export", "--index", root, tar)
    assert (rc, err) == (0, "") and out == f"exported 3 files, {chunks} chunks to {tar}\n"
    other = tmp_path / "other"
    rc, out, err = run(capsys, "import", tar, "--index", other)
    assert rc == 0, err
    assert out.startswith(f"imported 3 files, {chunks} chunks into ")
    assert str(other) in out and out.endswith("(nothing re-embedded)\n")
    status = Index.open(other, settings(other)).status()
    assert (status.files, status.chunks) == (3, chunks)


def test_import_over_an_index_needs_replace_and_then_replaces_it(tmp_path, capsys):
    root, _ = built(tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    small_root, small_chunks = built(small, n=1)
    tar = tmp_path / "small.tar"
    assert run(capsys, "export", "--index", small_root, tar)[0] == 0
    rc, out, err = run(capsys, "import", tar, "--index", root)
    assert rc == 1 and out == "" and "--replace" in one_line(err)
    assert Index.open(root, settings(root)).status().files == 3  # left as it was
    rc, out, err = run(capsys, "import", tar, "--index", root, "--replace")
    assert rc == 0, err
    status = Index.open(root, settings(root)).status()
    assert (status.files, status.chunks) == (1, small_chunks)


def test_export_without_an_index_is_one_line_and_writes_nothing(tmp_path, capsys):
    tar = tmp_path / "x.tar"
    rc, out, err = run(capsys, "export", "--index", tmp_path / "none", tar)
    assert rc == 1 and out == ""
    assert one_line(err).startswith("docchat: error: ") and str(tmp_path / "none") in err
    assert not tar.exists()


def test_export_into_a_missing_folder_is_one_line(tmp_path, capsys):
    root, _ = built(tmp_path)
    rc, out, err = run(capsys, "export", "--index", root, tmp_path / "no" / "x.tar")
    assert rc == 1 and out == ""  # the file as typed, not the temporary one beside it
    assert one_line(err) == (f"docchat: error: cannot write {tmp_path / 'no' / 'x.tar'}: "
                             "No such file or directory")
    assert not (tmp_path / "no").exists()


def test_import_of_a_missing_file_is_one_line_and_makes_no_index(tmp_path, capsys):
    rc, out, err = run(capsys, "import", tmp_path / "absent.tar", "--index", tmp_path / "i")
    assert rc == 1 and out == "" and one_line(err).startswith("docchat: error: ")
    assert "absent.tar" in err
    assert not (tmp_path / "i").exists() or not any((tmp_path / "i").iterdir())
