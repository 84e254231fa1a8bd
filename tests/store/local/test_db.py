"""The SQLite side of the embedded store (rag/store/local/db.py): the schema and its upgrade of
an older index in place, durable WAL connections, meta values, segment names that no two
writers share, the generation, and structures kept as JSON."""
from __future__ import annotations

import sqlite3

import pytest

from rag.store.local import db as dbmod
from rag.store.local.layout import DB, TMP_SUFFIX, segment_name

TABLES = {"meta", "files", "contents", "pages", "chunks", "skipped", "segments", "tombstones",
          "retired"}


def tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_writer_connection_makes_the_schema_in_durable_wal_mode(tmp_path):
    db = dbmod.connect_writer(tmp_path / DB)
    assert tables(db) == TABLES
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: a commit is durable
    assert db.isolation_level is None  # autocommit: transactions are the writer's, explicit
    db.close()


def test_connecting_again_keeps_what_is_there(tmp_path):
    db = dbmod.connect_writer(tmp_path / DB)
    db.execute("INSERT INTO files VALUES ('a.txt', 'sha-a', 3, 'then', 42)")
    dbmod.set_meta(db, "generation", "7")
    db.close()
    db = dbmod.connect_writer(tmp_path / DB)
    assert db.execute("SELECT * FROM files").fetchall() == [("a.txt", "sha-a", 3, "then", 42)]
    assert dbmod.generation(db) == 7
    db.close()


def test_an_index_written_before_files_kept_their_mtime_is_upgraded_in_place(tmp_path):
    """Its files get mtime_ns 0 ("read it again"), nothing else changes."""
    old = sqlite3.connect(tmp_path / DB)
    old.execute("CREATE TABLE files(path TEXT PRIMARY KEY, sha TEXT NOT NULL, size INTEGER, "
                "indexed_at TEXT)")
    old.execute("INSERT INTO files VALUES ('a.txt', 'sha-a', 3, 'then')")
    old.commit()
    old.close()
    db = dbmod.connect_writer(tmp_path / DB)
    assert db.execute("SELECT path, sha, size, indexed_at, mtime_ns FROM files").fetchall() == \
        [("a.txt", "sha-a", 3, "then", 0)]
    db.execute("INSERT INTO files (path, sha) VALUES ('b.txt', 'sha-b')")  # the default holds
    assert db.execute("SELECT mtime_ns FROM files WHERE path = 'b.txt'").fetchone() == (0,)
    db.close()


def test_meta_keeps_text_as_is_and_other_values_as_json(tmp_path):
    db = dbmod.connect_writer(tmp_path / DB)
    assert dbmod.get_meta(db, "missing") == "" and dbmod.get_meta(db, "missing", "d") == "d"
    dbmod.set_meta(db, "text", "1")
    dbmod.set_meta(db, "stats", {"files": 2, "built_at": "now"})
    dbmod.set_meta(db, "number", 3)
    assert dbmod.get_meta(db, "text") == "1"
    assert dbmod.get_meta(db, "stats") == '{"files": 2, "built_at": "now"}'
    assert dbmod.get_meta(db, "number") == "3"
    dbmod.set_meta(db, "text", "2")  # replaced, not a second row
    assert db.execute("SELECT count(*) FROM meta WHERE key = 'text'").fetchone() == (1,)
    db.close()


def test_segment_names_are_never_handed_out_twice(tmp_path):
    """The writer and a merger each allocate theirs on their own connection; names left on
    disk by a killed run (finished or .tmp) are skipped, and the count survives reopening."""
    a = dbmod.connect_writer(tmp_path / DB)
    b = dbmod.connect_writer(tmp_path / DB)
    (tmp_path / segment_name(2)).mkdir()
    (tmp_path / (segment_name(3) + TMP_SUFFIX)).mkdir()
    names = [dbmod.allocate_segment(c, tmp_path) for c in (a, b, a, b)]
    assert names == [segment_name(1), segment_name(4), segment_name(5), segment_name(6)]
    a.close()
    b.close()
    again = dbmod.connect_writer(tmp_path / DB)
    assert dbmod.allocate_segment(again, tmp_path) == segment_name(7)
    assert not again.in_transaction
    again.close()


def test_a_failed_allocation_leaves_no_transaction_open(tmp_path, monkeypatch):
    db = dbmod.connect_writer(tmp_path / DB)

    def full_disk(*args):
        raise OSError("disk full")

    monkeypatch.setattr(dbmod, "set_meta", full_disk)
    with pytest.raises(OSError):
        dbmod.allocate_segment(db, tmp_path)
    assert not db.in_transaction  # rolled back: the next writer is not locked out
    monkeypatch.undo()
    assert dbmod.allocate_segment(db, tmp_path) == segment_name(1)
    db.close()


def test_the_generation_is_zero_before_any_commit_even_without_a_schema(tmp_path):
    bare = sqlite3.connect(tmp_path / "bare.sqlite")  # no tables at all
    assert dbmod.generation(bare) == 0
    bare.close()
    db = dbmod.connect_writer(tmp_path / DB)
    assert dbmod.generation(db) == 0
    dbmod.set_meta(db, "generation", "12")
    assert dbmod.generation(db) == 12
    db.close()


@pytest.mark.parametrize("structure", [((0, 5, 0),), ((0, 5, 0), (6, 20, 1), (21, 40, 2)), ()])
def test_a_structure_is_kept_as_json_and_read_back_as_tuples(structure):
    text = dbmod.structure_json(structure)
    assert dbmod.structure_of(text) == structure
    assert (text == "") == (not structure)
    assert dbmod.structure_of(None) == ()
