"""A full disk (issue 20, item 10): the intact index stays readable and reported as it is, and
a build that cannot write says so in one line, exit 1, changing nothing. A real small tmpfs
is filled up (needs root to mount; skipped with the reason otherwise)."""
from __future__ import annotations

import os
import shutil
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
