"""A no-change run stats files instead of reading them: a file whose size and modification time
are what they were when it was hashed is not read again (as git and make trust them); a file
changed within the clock's granularity of being indexed ("racy") is still caught."""
from __future__ import annotations

import os
import time
from pathlib import Path


from rag.index import Index
from rag.ingest import files
from rag.settings import Settings
from fakes import HashEmbedder


def run(root: Path, docs: Path):
    return Index(root, Settings(index_dir=str(root)), embedder=HashEmbedder(dim=4)).update([str(docs)])


def age(path: Path, seconds: float) -> None:
    t = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(t, t))


def test_an_unchanged_file_is_not_read_on_a_no_change_run(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"note-{i}.txt").write_text(f"Depot {i} stores {i * 7} crates of salt.\n")
        age(docs / f"note-{i}.txt", 60)
    assert len(run(tmp_path / "idx", docs).added) == 5
    read: list[str] = []
    real = files.read
    monkeypatch.setattr(files, "read", lambda p: read.append(p.name) or real(p))
    (docs / "note-2.txt").write_text("Depot 2 now stores 99 crates of salt.\n")  # changed: new time
    again = run(tmp_path / "idx", docs)
    assert [Path(p).name for p in again.updated] == ["note-2.txt"]
    assert read == ["note-2.txt"]  # the four others were only stat()ed


def test_a_change_within_the_clock_granularity_is_still_caught(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    note = docs / "note.txt"
    note.write_text("The gate opens at 0600.\n")
    run(tmp_path / "idx", docs)  # hashed right after it was written: its time is not trusted
    stamp = note.stat().st_mtime_ns
    note.write_text("The gate opens at 0700.\n")  # same size
    os.utime(note, ns=(stamp, stamp))  # and the same modification time
    assert [Path(p).name for p in run(tmp_path / "idx", docs).updated] == ["note.txt"]


def test_a_full_run_reads_every_file(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha stores salt.\n")
    age(docs / "a.txt", 60)
    run(tmp_path / "idx", docs)
    read: list[str] = []
    real = files.read
    monkeypatch.setattr(files, "read", lambda p: read.append(p.name) or real(p))
    Index(tmp_path / "idx", Settings(index_dir=str(tmp_path / "idx")), embedder=HashEmbedder(dim=4)).update([str(docs)], full=True)
    assert read == ["a.txt"]
