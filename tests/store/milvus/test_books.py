"""The Milvus store's bookkeeping database (rag/store/milvus/books.py): the writer's
connection (folders made, WAL, the schema, reopened without losing anything), the meta table
(strings kept as they are, other values as JSON, defaults for a missing key or a database
with no schema yet), the generation (the publish point a reader trusts) and the pages'
structure as stored text. SQLite only: no pymilvus needed."""
from __future__ import annotations

import json
import sqlite3

import pytest

from rag.store import sqlbooks
from rag.store.milvus import books

TABLES = {"meta", "files", "contents", "pages", "skipped", "tombstones", "dropped"}


def tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_writer_connection_makes_its_folders_the_schema_and_uses_wal(tmp_path):
    path = tmp_path / "a" / "b" / "index-docchat.sqlite"
    db = books.connect_writer(path)
    try:
        assert path.is_file()
        assert tables(db) == TABLES
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: a commit is durable
        assert db.isolation_level is None  # autocommit: the writer opens its own transactions
    finally:
        db.close()


def test_reopening_keeps_what_was_written(tmp_path):
    path = tmp_path / "books.sqlite"
    db = books.connect_writer(path)
    books.set_meta(db, "generation", "4")
    db.execute("INSERT INTO tombstones VALUES ('abc')")
    db.close()
    db = books.connect_writer(path)  # the schema script runs again: IF NOT EXISTS everywhere
    try:
        assert books.generation(db) == 4
        assert db.execute("SELECT sha FROM tombstones").fetchall() == [("abc",)]
    finally:
        db.close()


def test_a_fresh_database_is_generation_zero_and_meta_gives_the_default(tmp_path):
    db = books.connect_writer(tmp_path / "books.sqlite")
    try:
        assert books.generation(db) == 0
        assert books.get_meta(db, "collection") == ""
        assert books.get_meta(db, "next_id", "1") == "1"
    finally:
        db.close()


def test_a_database_without_the_schema_reads_as_empty_not_as_an_error(tmp_path):
    """A reader can open the file before any writer made the tables (an empty file)."""
    path = tmp_path / "books.sqlite"
    sqlite3.connect(path).close()
    db = sqlbooks.connect_reader(path)
    try:
        assert books.get_meta(db, "manifest", "none") == "none"
        assert books.generation(db) == 0
    finally:
        db.close()


def test_a_reader_sees_what_the_writer_set(tmp_path):
    path = tmp_path / "books.sqlite"
    w = books.connect_writer(path)
    books.set_meta(w, "generation", "7")
    books.set_meta(w, "collection", "docchat_ab12cd34_g7")
    r = sqlbooks.connect_reader(path)
    try:
        assert books.generation(r) == 7
        assert books.get_meta(r, "collection") == "docchat_ab12cd34_g7"
    finally:
        r.close()
        w.close()


@pytest.mark.parametrize("value, stored", [
    ("plain text", "plain text"),
    ("", ""),
    ('{"already": "json"}', '{"already": "json"}'),  # a string is never encoded twice
    ("naïve — 東京", "naïve — 東京"),
    (3, "3"),
    ({"files": 2, "chunks": 10}, '{"files": 2, "chunks": 10}'),
    ([1, "a"], '[1, "a"]'),
])
def test_meta_keeps_strings_as_they_are_and_other_values_as_json(tmp_path, value, stored):
    db = books.connect_writer(tmp_path / "books.sqlite")
    try:
        books.set_meta(db, "k", value)
        assert books.get_meta(db, "k") == stored
        if not isinstance(value, str):
            assert json.loads(books.get_meta(db, "k")) == value
    finally:
        db.close()


def test_setting_a_key_again_replaces_it(tmp_path):
    db = books.connect_writer(tmp_path / "books.sqlite")
    try:
        books.set_meta(db, "generation", 1)
        books.set_meta(db, "generation", "2")
        assert books.generation(db) == 2
        assert db.execute("SELECT count(*) FROM meta").fetchone()[0] == 1
    finally:
        db.close()


def test_set_meta_inside_a_rolled_back_transaction_is_not_published(tmp_path):
    """The writer's publish point: the generation moves only when its transaction commits."""
    path = tmp_path / "books.sqlite"
    db = books.connect_writer(path)
    try:
        books.set_meta(db, "generation", "1")
        db.execute("BEGIN IMMEDIATE")
        books.set_meta(db, "generation", "2")
        books.set_meta(db, "collection", "next")
        db.execute("ROLLBACK")
        assert books.generation(db) == 1
        assert books.get_meta(db, "collection") == ""
    finally:
        db.close()


@pytest.mark.parametrize("structure", [
    ((0, 1, 12),),
    ((0, 1, 12), (15, 2, 40), (41, 3, 41)),
])
def test_structure_round_trips_through_its_text(structure):
    text = books.structure_json(structure)
    assert isinstance(text, str) and json.loads(text) == [list(s) for s in structure]
    assert books.structure_of(text) == structure


@pytest.mark.parametrize("empty", [(), [], None])
def test_no_structure_is_stored_as_empty_text_and_read_back_as_an_empty_tuple(empty):
    assert books.structure_json(empty) == ""
    assert books.structure_of(books.structure_json(empty)) == ()
    assert books.structure_of(None) == ()  # a NULL column


def test_structure_read_back_is_hashable_tuples_as_pages_keep_it():
    """Page and Chunk are frozen dataclasses compared and hashed by value: lists would not do."""
    got = books.structure_of("[[0, 1, 2], [3, 4, 5]]")
    assert got == ((0, 1, 2), (3, 4, 5))
    hash(got)
