"""The bookkeeping both stores keep in SQLite (rag/store/sqlbooks.py): read-only connections
(and reading the file as it is when no shared memory can be made and no log is left), file
rows written only when they changed, skipped files, documents, and the plan's bookkeeping."""
from __future__ import annotations

import sqlite3

import pytest

from rag.store import sqlbooks
from rag.store.local import db as dbmod
from rag.store.protocol import Bookkeeping, DocumentRecord, FileRecord
from rag.types import Skipped


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


def query(db: sqlite3.Connection):
    return lambda sql, args=(): db.execute(sql, args).fetchall()


def files(db: sqlite3.Connection) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in db.execute("SELECT path, sha, size, indexed_at, mtime_ns "
                                            "FROM files")}


FIRST = [FileRecord("a.txt", "sha-a", 1, 10), FileRecord("b.txt", "sha-b", 2, 20),
         FileRecord("c.txt", "sha-c", 3, 30)]


def test_only_changed_file_rows_are_written_and_a_new_content_is_restamped(tmp_path,
                                                                          monkeypatch):
    db = dbmod.connect_writer(tmp_path / "meta.sqlite")
    monkeypatch.setattr(sqlbooks, "now", lambda: "first")
    sqlbooks.write_files(db, FIRST, [])
    assert files(db) == {"a.txt": ("sha-a", 1, "first", 10), "b.txt": ("sha-b", 2, "first", 20),
                         "c.txt": ("sha-c", 3, "first", 30)}
    monkeypatch.setattr(sqlbooks, "now", lambda: "second")
    changes = db.total_changes
    sqlbooks.write_files(db, FIRST, [])
    assert db.total_changes == changes  # nothing changed: nothing written
    sqlbooks.write_files(db, [FileRecord("a.txt", "sha-a", 5, 11),  # touched, same content
                              FileRecord("b.txt", "sha-B", 2, 21),  # a new content
                              FileRecord("d.txt", "sha-d", 4, 40)], [])  # c.txt removed
    assert files(db) == {"a.txt": ("sha-a", 5, "first", 11), "b.txt": ("sha-B", 2, "second", 21),
                         "d.txt": ("sha-d", 4, "second", 40)}
    db.close()


def test_skipped_files_are_replaced_each_time_with_their_contents_sha_when_known(tmp_path):
    db = dbmod.connect_writer(tmp_path / "meta.sqlite")
    sqlbooks.write_files(db, [FileRecord("bad.pdf", "sha-bad", 9)],
                         [Skipped("bad.pdf", "no text layer"), Skipped("huge.bin", "too large")])
    assert sorted(db.execute("SELECT * FROM skipped")) == [
        ("bad.pdf", "sha-bad", "no text layer"), ("huge.bin", None, "too large")]
    assert sqlbooks.skipped(query(db)) == (Skipped("bad.pdf", "no text layer"),
                                           Skipped("huge.bin", "too large"))
    sqlbooks.write_files(db, [FileRecord("bad.pdf", "sha-bad", 9)], [])
    assert sqlbooks.skipped(query(db)) == ()
    db.close()


def test_documents_are_the_files_whose_content_is_held_in_path_order(tmp_path):
    db = dbmod.connect_writer(tmp_path / "meta.sqlite")
    db.executemany("INSERT INTO contents VALUES (?, ?, ?)", [("sha-a", 2, 5), ("sha-b", 1, 1)])
    sqlbooks.write_files(db, [FileRecord("z.txt", "sha-a", 10), FileRecord("a.txt", "sha-b", 3),
                              FileRecord("copy.txt", "sha-a", 10),
                              FileRecord("bad.pdf", "sha-bad", 7)],  # no content: skipped
                         [Skipped("bad.pdf", "no text layer")])
    docs = sqlbooks.documents(query(db))
    assert [(d.path, d.sha, d.pages, d.chunks, d.size) for d in docs] == [
        ("a.txt", "sha-b", 1, 1, 3), ("copy.txt", "sha-a", 2, 5, 10), ("z.txt", "sha-a", 2, 5, 10)]
    assert all(isinstance(d, DocumentRecord) and d.indexed_at for d in docs)
    db.close()


def test_the_bookkeeping_is_what_a_run_plans_against(tmp_path):
    db = dbmod.connect_writer(tmp_path / "meta.sqlite")
    db.execute("INSERT INTO contents VALUES ('sha-a', 1, 1)")
    sqlbooks.write_files(db, [FileRecord("a.txt", "sha-a", 3, 111),
                              FileRecord("old.txt", "sha-o", 4),  # hashed before mtimes: 0
                              FileRecord("bad.pdf", "sha-bad", 7, 222)],
                         [Skipped("bad.pdf", "no text layer"), Skipped("gone.bin", "too large")])
    book = sqlbooks.bookkeeping(query(db))
    assert book == Bookkeeping(files={"a.txt": "sha-a", "old.txt": "sha-o", "bad.pdf": "sha-bad"},
                               contents=frozenset({"sha-a"}), bad={"sha-bad": "no text layer"},
                               stamps={"a.txt": (3, 111), "bad.pdf": (7, 222)},
                               rebuild_pending=False)
    dbmod.set_meta(db, "rebuild_pending", "1")
    assert sqlbooks.bookkeeping(query(db)).rebuild_pending
    db.close()


def test_an_index_from_before_mtimes_reads_read_only_without_stamps(tmp_path):
    """Read-only, it cannot be upgraded: every file is then hashed again, nothing fails."""
    path = tmp_path / "meta.sqlite"
    old = sqlite3.connect(path)
    old.executescript(dbmod.SCHEMA.replace(", mtime_ns INTEGER NOT NULL DEFAULT 0", ""))
    old.execute("INSERT INTO files VALUES ('a.txt', 'sha-a', 3, 'then')")
    old.commit()
    old.close()
    db = sqlbooks.connect_reader(path)
    book = sqlbooks.bookkeeping(query(db))
    assert book.files == {"a.txt": "sha-a"} and book.stamps == {}
    db.close()


def test_a_reader_connection_writes_nothing_and_creates_no_file(tmp_path):
    path = tmp_path / "meta.sqlite"
    with pytest.raises(sqlite3.OperationalError):
        sqlbooks.connect_reader(path)
    assert not path.exists()
    dbmod.connect_writer(path).close()
    db = sqlbooks.connect_reader(path)
    with pytest.raises(sqlite3.OperationalError):
        db.execute("INSERT INTO meta VALUES ('k', 'v')")
    assert db.execute("SELECT count(*) FROM meta").fetchone() == (0,)
    db.close()


def test_an_index_in_a_folder_that_cannot_be_written_is_read_as_it_is(tmp_path, immutable):
    """A read-only copy or mount: WAL mode cannot make its shared-memory file there, and the
    last writer closed cleanly (no log left), so the file is read as it is (issue 20)."""
    folder = tmp_path / "index"
    folder.mkdir()
    db = dbmod.connect_writer(folder / "meta.sqlite")
    dbmod.set_meta(db, "generation", "3")
    db.close()
    assert not (folder / "meta.sqlite-wal").exists()
    immutable(folder)
    db = sqlbooks.connect_reader(folder / "meta.sqlite")
    assert dbmod.generation(db) == 3
    db.close()


@pytest.mark.parametrize("raw", ["x", "", "1.5"])
def test_a_generation_that_is_not_a_number_is_a_damaged_index_on_both_stores(raw):
    from rag.errors import IndexCorruptError
    from rag.store.local import db as local_db
    from rag.store.milvus import books

    for module in (local_db, books):
        db = sqlite3.connect(":memory:")
        db.executescript(module.SCHEMA)
        db.execute("INSERT INTO meta VALUES ('generation', ?)", (raw,))
        with pytest.raises(IndexCorruptError, match="generation is"):
            module.generation(db)
        db.execute("UPDATE meta SET value = '7'")
        assert module.generation(db) == 7
