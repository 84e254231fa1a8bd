"""The Milvus side of the Milvus store (rag/store/milvus/collection.py), on milvus-lite (a real
Milvus, in this process): the collection it creates (dense IP search exact, BM25 over the
context and text, rows read back as written), the filters a snapshot and a scope use (which
rows they let through, asked of Milvus itself), a row's byte caps, pymilvus errors as one line
naming the store, and connecting (a missing pymilvus, credentials for a server only).

One milvus-lite database for the module (milvus-lite serves one process: released at the end).
"""
from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.settings import Settings  # noqa: E402
from rag.store.milvus import collection as col  # noqa: E402
from rag.store_url import parse  # noqa: E402
from rag.types import Chunk  # noqa: E402

DIM = 4
NAME = "chunks"
#: id: (gen, sha, context, text, dense)
ROWS = {
    1: (1, "a" * 64, "Desserts > Pies", "Apple pie needs sour apples.", (1, 0, 0, 0)),
    2: (1, "a" * 64, "", "Crumble is apple pie's lazy cousin.", (0.8, 0.6, 0, 0)),
    3: (2, "b" * 64, "", "Banana bread uses very ripe bananas.", (0, 1, 0, 0)),
    4: (3, "c" * 64, "", "Cherry tart: pit the cherries first.", (0, 0, 1, 0)),
    5: (3, "d" * 64, "Café", "Crème brûlée — 東京 style, torched sugar.", (0, 0, 0, 1)),
}


def chunk(cid: int) -> Chunk:
    _, _, context, text, _ = ROWS[cid]
    return Chunk(page=cid % 2, start=10 * cid, end=10 * cid + len(text), text=text,
                 label=f"p{cid}", context=context,
                 structure=((0, 5, 1),) if context else ())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from rag.store.milvus import release

    url = parse(f"milvus://{tmp_path_factory.mktemp('lite') / 'index.db'}")
    c = col.connect(url, Settings())
    col.create(c, NAME, DIM, 1.2, 0.75, lite=True)
    rows = []
    for cid, (gen, sha, context, text, dense) in ROWS.items():
        ch = chunk(cid)
        rows.append(col.row(np.int64(cid), np.int64(gen), sha, f"/docs/{sha[0]}.txt", ch,
                            f"{context}\n{text}" if context else text,
                            np.asarray(dense, np.float64)))
    c.insert(NAME, rows)
    c.flush(NAME)
    c.load_collection(NAME)
    yield c
    release(url)


def ids(client, expr: str) -> set[int]:
    got = client.query(NAME, filter=expr, output_fields=["id"],
                       consistency_level=col.CONSISTENCY)
    return {int(r["id"]) for r in got}


# -- the filters, as Milvus reads them ------------------------------------------------------

@pytest.mark.parametrize("gen, tombstones, expected", [
    (0, [], set()),
    (1, [], {1, 2}),
    (2, [], {1, 2, 3}),
    (3, [], {1, 2, 3, 4, 5}),
    (99, [], {1, 2, 3, 4, 5}),
    (3, ["a" * 64], {3, 4, 5}),  # a tombstoned content: all of its chunks hidden
    (3, ["d" * 64, "b" * 64], {1, 2, 4}),
    (1, ["c" * 64], {1, 2}),  # tombstoning a content above the generation changes nothing
    (3, ["0" * 64], {1, 2, 3, 4, 5}),  # a tombstone no row has
])
def test_a_snapshot_sees_rows_at_or_below_its_generation_not_tombstoned(client, gen,
                                                                       tombstones, expected):
    assert ids(client, col.visible(gen, tombstones)) == expected


def test_the_snapshot_filter_does_not_depend_on_the_tombstones_order():
    assert col.visible(3, ["b", "a"]) == col.visible(3, ("a", "b"))
    assert col.visible(np.int64(3), []) == col.visible(3, [])


@pytest.mark.parametrize("wanted, gen, expected", [
    ([1, 3, 5], 3, {1, 3, 5}),
    ([1, 3, 5], 2, {1, 3}),  # ids of a later commit are not returned to an older snapshot
    ([np.int64(4), 42], 3, {4}),  # an id Milvus does not hold is simply absent
])
def test_an_id_filter_keeps_only_those_ids_of_the_snapshot(client, wanted, gen, expected):
    assert ids(client, col.id_filter(wanted, col.visible(gen, []))) == expected


def test_a_sha_filter_keeps_only_those_contents(client):
    assert ids(client, col.sha_filter({"c" * 64, "a" * 64})) == {1, 2, 4}
    assert ids(client, col.sha_filter(["e" * 64])) == set()
    scoped = f"{col.visible(2, [])} and {col.sha_filter(['a' * 64, 'c' * 64])}"
    assert ids(client, scoped) == {1, 2}  # as the reader scopes a search


# -- the collection: search and rows as written ----------------------------------------------

def test_dense_search_is_inner_product_and_exact_on_lite(client):
    got = client.search(NAME, data=[[0.6, 0.8, 0, 0]], anns_field="dense", limit=5,
                        filter=col.visible(3, []), search_params={"metric_type": "IP"},
                        output_fields=["id"], consistency_level=col.CONSISTENCY)[0]
    assert [int(h["id"]) for h in got][:3] == [2, 3, 1]  # 0.96, 0.8, 0.6
    assert got[0]["distance"] == pytest.approx(0.96, abs=1e-5)


def test_bm25_searches_the_context_and_the_text(client):
    def lexical(query, gen=3):
        hits = client.search(NAME, data=[query], anns_field="sparse", limit=5,
                             filter=col.visible(gen, []),
                             search_params={"metric_type": "BM25"}, output_fields=["id"],
                             consistency_level=col.CONSISTENCY)[0]
        return [int(h["id"]) for h in hits]

    assert lexical("bananas")[:1] == [3]
    assert lexical("desserts") == [1]  # only in chunk 1's heading path (context)
    assert lexical("cherries", gen=2) == []  # the filter holds for lexical search too


def test_rows_read_back_as_they_were_written(client):
    got = {int(r["id"]): r for r in client.query(
        NAME, filter=col.id_filter([1, 5], "gen >= 0"),
        output_fields=list(col.FIELDS) + ["dense"], consistency_level=col.CONSISTENCY)}
    r = got[5]
    assert r["text"] == ROWS[5][3] and r["context"] == "Café"
    assert r["index_text"] == "Café\n" + ROWS[5][3]
    assert (r["gen"], r["sha"], r["path"]) == (3, "d" * 64, "/docs/d.txt")
    assert (r["page"], r["start"], r["end"], r["label"]) == (1, 50, 50 + len(ROWS[5][3]), "p5")
    assert r["structure"] == "[[0, 5, 1]]"
    assert got[1]["structure"] == "[[0, 5, 1]]" and got[1]["index_text"].startswith("Desserts")
    assert np.allclose(r["dense"], [0, 0, 0, 1])


def test_a_chunk_without_structure_is_stored_as_empty_text():
    r = col.row(2, 1, "a" * 64, "/x", chunk(2), chunk(2).text, np.zeros(DIM))
    assert r["structure"] == "" and r["context"] == ""


def test_a_row_is_plain_python_values_whatever_numpy_gave():
    r = col.row(np.int64(7), np.int32(2), "e" * 64, "/x", chunk(3), "t",
                np.arange(DIM, dtype=np.float64))
    assert type(r["id"]) is int and type(r["gen"]) is int
    assert r["dense"] == [0.0, 1.0, 2.0, 3.0] and all(type(v) is float for v in r["dense"])


def test_strong_consistency_a_row_is_seen_right_after_its_insert(client):
    """What a reader relies on: a write acknowledged before a read is seen by it, no flush."""
    client.insert(NAME, [col.row(100, 50, "f" * 64, "/f", chunk(3), "fig", np.ones(DIM))])
    try:
        assert ids(client, "gen == 50") == {100}
    finally:
        client.delete(NAME, filter="id in [100]")
    assert ids(client, "gen == 50") == set()


# -- a row's byte caps ---------------------------------------------------------------------

def test_the_caps_are_bytes_not_characters():
    """Milvus counts VARCHAR lengths in bytes: 40,000 'é' are 80,000 bytes."""
    wide = "é" * 40_000
    assert len(wide) < col.TEXT_MAX < len(wide.encode())
    with pytest.raises(col.MilvusStoreError) as e:
        col.row(1, 1, "a" * 64, "/docs/long.txt", Chunk(0, 0, len(wide), wide), wide,
                np.zeros(DIM))
    msg = str(e.value)
    assert msg == "/docs/long.txt: a chunk's text is longer than Milvus's 65535-byte field"
    ok = "é" * (col.TEXT_MAX // 2)  # 65,534 bytes: fits
    col.row(1, 1, "a" * 64, "/x", Chunk(0, 0, len(ok), ok), ok, np.zeros(DIM))


@pytest.mark.parametrize("what, kw", [
    ("path", {"path": "/" + "d" * col.PATH_MAX}),
    ("context", {"context": "h" * (col.TEXT_MAX + 1)}),
    ("index text", {"index": "x" * (col.TEXT_MAX + 1)}),
])
def test_each_capped_field_is_named_when_too_long(what, kw):
    c = Chunk(0, 0, 3, "abc", context=kw.get("context", ""))
    path = kw.get("path", "/docs/a.txt")
    with pytest.raises(col.MilvusStoreError, match=f"a chunk's {what} is longer") as e:
        col.row(1, 1, "a" * 64, path, c, kw.get("index", "abc"), np.zeros(DIM))
    assert "\n" not in str(e.value)


def test_a_field_exactly_at_its_cap_is_accepted(client):
    path = "/" + "p" * (col.PATH_MAX - 1)
    text = "t" * col.TEXT_MAX
    r = col.row(200, 60, "f" * 64, path, Chunk(0, 0, len(text), text), text, np.ones(DIM))
    client.insert(NAME, [r])  # and Milvus agrees
    try:
        assert ids(client, "gen == 60") == {200}
    finally:
        client.delete(NAME, filter="id in [200]")


# -- errors and connecting -----------------------------------------------------------------

def test_a_milvus_failure_is_one_line_naming_where(client):
    with pytest.raises(col.MilvusStoreError) as e:
        with col.errors("milvus-lite /x.db: search failed"):
            client.query("no_such_collection", filter="id > 0", output_fields=["id"])
    msg = str(e.value)
    assert msg.startswith("milvus-lite /x.db: search failed: ") and "no_such_collection" in msg
    assert "\n" not in msg
    from pymilvus.exceptions import MilvusException

    assert isinstance(e.value.__cause__, MilvusException)  # the original kept for the log


class _Deadline:
    """What grpc raises for a call past its deadline (an _InactiveRpcError: a grpc.RpcError
    with the grpc.Call interface, its text several lines), made here: milvus-lite answers a
    tiny deadline with it only now and then."""

    def code(self):
        import grpc

        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self):
        return "Deadline Exceeded"

    def __str__(self):
        return ("<_InactiveRpcError of RPC that terminated with:\n\tstatus = "
                "StatusCode.DEADLINE_EXCEEDED\n\tdetails = \"Deadline Exceeded\"\n>")


def test_a_call_past_its_deadline_is_one_line_naming_where():
    """pymilvus passes some gRPC failures through as they are (a deadline exceeded, a login
    refused: its decorators' IGNORE_RETRY_CODES), not as a MilvusException. The deadline is
    DOCCHAT_MILVUS_TIMEOUT, the client's default for every call."""
    import grpc

    error = type("InactiveRpcError", (_Deadline, grpc.RpcError), {})()
    with pytest.raises(col.MilvusStoreError) as e:
        with col.errors("milvus-lite /x.db: search failed"):
            raise error
    assert str(e.value) == "milvus-lite /x.db: search failed: Deadline Exceeded " \
        "(DEADLINE_EXCEEDED)"
    assert e.value.__cause__ is error
    with pytest.raises(col.MilvusStoreError) as e:  # an RpcError without the Call interface
        with col.errors("where"):
            raise grpc.RpcError("first line\nsecond line")
    assert str(e.value) == "where: first line"


def test_errors_leaves_other_exceptions_alone():
    with pytest.raises(KeyError):
        with col.errors("anywhere"):
            raise KeyError("x")


def test_a_wrong_dimension_is_refused_as_a_store_error(client):
    bad = col.row(300, 70, "f" * 64, "/f", chunk(3), "fig", np.ones(DIM + 1))
    with pytest.raises(col.MilvusStoreError, match="^insert: "):
        with col.errors("insert"):
            client.insert(NAME, [bad])


def test_creating_on_lite_logs_no_grpc_errors(tmp_path, caplog):
    """milvus-lite logs an ERROR for each call it does not implement: noise, kept quiet."""
    from rag.store.milvus import release

    url = parse(f"milvus://{tmp_path / 'quiet.db'}")
    caplog.set_level(logging.DEBUG)
    try:
        c = col.connect(url, Settings())
        col.create(c, "quiet", DIM, 1.2, 0.75, lite=True)
        assert "quiet" in c.list_collections()
    finally:
        release(url)
    assert not [r for r in caplog.records if r.name.startswith("grpc")
                and r.levelno >= logging.ERROR]


def test_without_pymilvus_a_milvus_store_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # import pymilvus -> ImportError
    with pytest.raises(col.MilvusStoreError) as e:
        col.connect(parse("milvus:///tmp/x.db"), Settings())
    assert "pip install 'docchat[milvus]'" in str(e.value) and "\n" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


class _Client:
    made: list = []

    def __init__(self, uri, **kw):
        _Client.made.append((uri, kw))


@pytest.mark.parametrize("settings, url, expected", [
    ({}, "milvus://db.example:19530", {}),
    ({"milvus_token": "tok", "milvus_user": "u", "milvus_password": "pw"},
     "milvus://db.example:19530", {"token": "tok"}),  # a token wins over a user
    ({"milvus_user": "u", "milvus_password": "pw"}, "milvus+https://db.example:443",
     {"user": "u", "password": "pw"}),
    ({"milvus_token": "tok", "milvus_user": "u"}, "milvus:///srv/x.db", {}),  # lite: none
])
def test_credentials_go_to_a_server_only(monkeypatch, settings, url, expected):
    import pymilvus

    monkeypatch.setattr(pymilvus, "MilvusClient", _Client)
    _Client.made = []
    s = Settings(milvus_timeout=7.5, **settings)
    col.connect(parse(url), s)
    ((uri, kw),) = _Client.made
    assert uri == parse(url).uri
    assert kw == {"timeout": 7.5, **expected}


def test_an_unreachable_server_is_one_line_naming_its_address(monkeypatch):
    from pymilvus.exceptions import MilvusException

    def refuse(uri, **kw):
        raise MilvusException(message=f"Fail connecting to server on {uri}, illegal connection")

    import pymilvus

    monkeypatch.setattr(pymilvus, "MilvusClient", refuse)
    with pytest.raises(col.MilvusStoreError) as e:
        col.connect(parse("milvus://127.0.0.1:1"), Settings())
    assert str(e.value).startswith("cannot open Milvus at http://127.0.0.1:1: Fail connecting")
    assert "another process" not in str(e.value)  # that reason is for a lite database only
