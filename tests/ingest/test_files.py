"""Which files an indexed folder yields: symbolic links never leak files from outside the
folders you chose; links, loops, FIFOs, sockets and unreadable folders are listed with a
reason, never silently dropped."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rag.index import Index
from rag.ingest.files import discover


def names(found) -> list[str]:
    return sorted(Path(p).name for p in found)


def reasons(skipped) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in skipped}


@pytest.fixture
def tree(tmp_path):
    docs, outside = tmp_path / "docs", tmp_path / "elsewhere"
    (docs / "sub").mkdir(parents=True)
    outside.mkdir()
    (docs / "notes.txt").write_text("inside")
    (docs / "sub" / "deep.md").write_text("# deep")
    (outside / "secret.txt").write_text("the password is swordfish")
    (outside / "folder").mkdir()
    (outside / "folder" / "more.txt").write_text("more secrets")
    return docs, outside


def test_links_to_outside_the_folder_are_listed_as_skipped_and_never_read(tree):
    docs, outside = tree
    (docs / "leak.txt").symlink_to(outside / "secret.txt")
    (docs / "passwd.txt").symlink_to("/etc/passwd")
    (docs / "leakdir").symlink_to(outside / "folder")
    found, skipped = discover([docs], follow_outside=False)
    assert names(found) == ["deep.md", "notes.txt"]
    assert all(str(outside) not in str(p) for p in found)
    why = reasons(skipped)
    for link in ("leak.txt", "passwd.txt", "leakdir"):
        assert why[link].startswith("symlink to outside the folder"), why
    assert all("swordfish" not in s.reason and "/etc" not in s.reason for s in skipped)
    assert {Path(s.path).parent for s in skipped} == {docs}  # listed by the link, not target


def test_the_setting_allows_outside_links_when_asked(tree, monkeypatch):
    docs, outside = tree
    (docs / "leak.txt").symlink_to(outside / "secret.txt")
    (docs / "leakdir").symlink_to(outside / "folder")
    monkeypatch.setenv("DOCCHAT_FOLLOW_OUTSIDE_SYMLINKS", "true")
    found, _ = discover([docs])
    assert names(found) == ["deep.md", "more.txt", "notes.txt", "secret.txt"]
    monkeypatch.setenv("DOCCHAT_FOLLOW_OUTSIDE_SYMLINKS", "false")
    assert names(discover([docs])[0]) == ["deep.md", "notes.txt"]


def test_links_inside_the_folder_are_read_once(tree):
    docs, _ = tree
    (docs / "alias.txt").symlink_to(docs / "notes.txt")
    (docs / "subalias").symlink_to(docs / "sub")
    found, skipped = discover([docs], follow_outside=False)
    assert names(found) == ["deep.md", "notes.txt"]
    assert skipped == []


def test_dangling_links_loops_fifos_and_sockets_are_listed_with_a_reason(tree):
    docs, _ = tree
    (docs / "gone.txt").symlink_to(docs / "missing.txt")
    (docs / "loop_a.txt").symlink_to(docs / "loop_b.txt")
    (docs / "loop_b.txt").symlink_to(docs / "loop_a.txt")
    (docs / "sub" / "up").symlink_to(docs)
    os.mkfifo(docs / "pipe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(docs / "sock.txt"))
    try:
        found, skipped = discover([docs], follow_outside=False)
    finally:
        sock.close()
    assert names(found) == ["deep.md", "notes.txt"]
    why = reasons(skipped)
    assert why["gone.txt"].startswith("dangling symlink")
    assert why["loop_a.txt"] == why["loop_b.txt"] == "symlink loop"
    assert why["up"].startswith("symlink loop")
    assert why["pipe.txt"] == "not a regular file: a FIFO (named pipe)"
    assert why["sock.txt"] == "not a regular file: a socket"


def test_an_unreadable_folder_is_listed_with_a_reason(tree, monkeypatch):
    """Tests run as root here, and root reads a chmod 000 folder anyway: so the refusal the
    kernel gives other users is stubbed (os.scandir raising PermissionError for one folder)."""
    docs, _ = tree
    real = os.scandir

    def scandir(path):
        if Path(path) == docs / "sub":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found, skipped = discover([docs], follow_outside=False)
    assert names(found) == ["notes.txt"]
    assert reasons(skipped) == {"sub": "unreadable folder: Permission denied"}


def test_settings_passed_in_code_reach_discovery_and_loading(tree, monkeypatch, tmp_path):
    """A Settings object handed to the builder (not the environment) decides what is read:
    here the symlink policy (discovery) and the sheet row cap (loading)."""
    import numpy as np

    from rag.settings import Settings
    from rag.store import open_store

    class FakeEmbedder:  # this test is about which files and rows are read, not vectors
        def encode(self, texts, progress=False, **_):
            return np.ones((len(texts), 4), dtype=np.float32) / 2

    monkeypatch.delenv("DOCCHAT_FOLLOW_OUTSIDE_SYMLINKS", raising=False)
    monkeypatch.delenv("DOCCHAT_SHEET_MAX_ROWS", raising=False)
    docs, outside = tree
    (docs / "leak.txt").symlink_to(outside / "secret.txt")
    (docs / "rows.csv").write_text("name,value\n" + "".join(f"r{i},{i}\n" for i in range(50)))
    root = tmp_path / "index"
    s = Settings(index_dir=str(root), follow_outside_symlinks=True, sheet_max_rows=10)
    summary = Index(root, s, embedder=FakeEmbedder()).update([str(docs)])
    assert str(outside / "secret.txt") in summary.added
    reader = open_store(root, s).reader()
    try:
        text = reader.page_text(str((docs / "rows.csv").resolve()), 1)
    finally:
        reader.close()
    assert "name: r8;" in text and "name: r9;" not in text and "Rows after 10 were not read" in text


def test_hidden_files_and_folders_are_listed_as_skipped_not_read(tmp_path):
    """Issue 20, item 14: they were ignored silently, so a user could not tell why a file
    they can see in a file manager set to show hidden files is never answered from."""
    from rag.ingest.files import discover

    (tmp_path / ".notes.md").write_text("secret plans")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.txt").write_text("ref")
    (tmp_path / ".incoming-abc").mkdir()  # docchat's own upload staging: not listed
    (tmp_path / "shown.md").write_text("shown")
    found, skipped = discover([tmp_path])
    assert [p.name for p in found] == ["shown.md"]
    assert {s.path.rsplit("/", 1)[1]: s.reason.split(" (")[0] for s in skipped} == {
        ".git": "hidden", ".notes.md": "hidden"}
