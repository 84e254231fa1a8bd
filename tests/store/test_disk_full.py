"""A full disk (issue 20, item 10): the intact index stays readable and reported as it is, and
a build that cannot write says so in one line, exit 1, changing nothing. A real small tmpfs
is filled up (needs root to mount; skipped with the reason otherwise)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest
from conftest import ROOT, docchat

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk):
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    assert shutil.disk_usage(disk).free < 8192


def test_a_full_disk_keeps_the_index_readable_and_a_build_fails_in_one_line(small_disk,
                                                                            tmp_path):
    index = small_disk / "index"
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    assert docchat("index", "--index", index, docs).returncode == 0
    fill(small_disk)

    status = docchat("status", "--index", index)
    assert status.returncode == 0, status.stdout + status.stderr  # was "no index", exit 1
    assert "chunks:  3" in status.stdout
    asked = docchat("ask", "--index", index, "How many people died in the attack?")
    assert asked.returncode == 0 and "133" in asked.stdout, asked.stderr

    (docs / "note.txt").write_text("The harbour crane lifts 40 tonnes.\n")
    built = docchat("index", "--index", index, docs)
    assert built.returncode == 1
    lines = built.stderr.strip().splitlines()
    assert len(lines) == 1 and "disk is full" in lines[0] and "Traceback" not in built.stderr

    (small_disk / "filler").unlink()  # space again: the update goes through
    assert docchat("index", "--index", index, docs).returncode == 0
    assert "files:   2" in docchat("status", "--index", index).stdout


class _NoSharedMemory:
    """A connection whose first read fails as WAL mode fails on a full disk."""

    def execute(self, *args):
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = 10 | (19 << 8)  # SQLITE_IOERR_SHMSIZE
        exc.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
        raise exc

    def close(self):
        pass


def test_without_room_the_file_is_read_as_it_is_only_when_no_log_is_left(tmp_path,
                                                                         monkeypatch):
    """With a write-ahead log left beside the file (a writer died on the full disk), reading
    the file alone could see a stale or half-checkpointed state: refused, in words."""
    from rag.errors import StorageError
    from rag.store import sqlbooks

    path = tmp_path / "meta.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.close()  # the last connection: everything checkpointed, the log removed
    real = sqlbooks._connect_ro
    monkeypatch.setattr(sqlbooks, "_connect_ro", lambda p, options: real(p, options)
                        if "immutable" in options else _NoSharedMemory())
    assert sqlbooks.connect_reader(path).execute("SELECT x FROM t").fetchone() == (1,)
    (tmp_path / "meta.sqlite-wal").write_bytes(b"\0" * 4096)  # a log a writer left
    with pytest.raises(StorageError, match="not checkpointed"):
        sqlbooks.connect_reader(path)
