"""The one interface of the stores (rag/store/protocol.py): both backends implement every method
of Reader, Writer and Store as declared; a manifest survives JSON and says why an index must
be rebuilt (format, model, chunker), never for where its files are; the value types behave as
the readers and the planner use them."""
from __future__ import annotations

import inspect
import json

import pytest

from rag.store.local import LocalStore
from rag.store.local.reader import LocalReader
from rag.store.local.writer import LocalWriter
from rag.store.milvus import MilvusStore
from rag.store.milvus.reader import MilvusReader
from rag.store.milvus.writer import MilvusWriter
from rag.store.protocol import (FORMAT_VERSION, Bookkeeping, ChunkerSettings, Manifest, Reader,
                                Scope, Store, Writer)

IMPLEMENTATIONS = [(Reader, LocalReader), (Reader, MilvusReader), (Writer, LocalWriter),
                   (Writer, MilvusWriter), (Store, LocalStore), (Store, MilvusStore)]


def methods(protocol) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(f) for name, f in vars(protocol).items()
            if callable(f) and not name.startswith("_")}


@pytest.mark.parametrize("protocol,cls", IMPLEMENTATIONS,
                         ids=[c.__name__ for _, c in IMPLEMENTATIONS])
def test_each_backend_has_every_method_of_the_protocol_with_its_parameters(protocol, cls):
    for name, want in methods(protocol).items():
        got = getattr(cls, name, None)
        assert callable(got), f"{cls.__name__} lacks {name}"
        params = [(p.name, p.default) for p in inspect.signature(got).parameters.values()]
        assert params == [(p.name, p.default) for p in want.parameters.values()], \
            f"{cls.__name__}.{name}"


MANIFEST = Manifest(FORMAT_VERSION, "sentence-transformers/all-MiniLM-L6-v2", 384,
                    ChunkerSettings(3, 200, 40), ("/docs", "/more docs"))


def test_a_manifest_survives_json_as_it_was():
    text = json.dumps(MANIFEST.to_json())
    back = Manifest.from_json(json.loads(text))
    assert back == MANIFEST and isinstance(back.roots, tuple)
    assert back.rebuild_reason(MANIFEST) == ""


def test_a_manifest_missing_fields_reads_as_an_unknown_format_that_is_rebuilt():
    old = Manifest.from_json({"model": "m"})
    assert (old.format, old.dim, old.chunker, old.roots) == (0, 0, ChunkerSettings(0, 0, 0), ())
    assert old.rebuild_reason(MANIFEST) == f"format changed: 0 -> {FORMAT_VERSION}"


@pytest.mark.parametrize("change,reason", [
    (dict(format=1), f"format changed: 1 -> {FORMAT_VERSION}"),
    (dict(model="other-model"),
     "model changed: 'other-model' -> 'sentence-transformers/all-MiniLM-L6-v2'"),
    (dict(chunker=ChunkerSettings(3, 120, 40)),
     "chunker changed: {'version': 3, 'tokens': 120, 'overlap': 40} -> "
     "{'version': 3, 'tokens': 200, 'overlap': 40}"),
    (dict(format=1, model="other-model"), f"format changed: 1 -> {FORMAT_VERSION}"),
    (dict(roots=("/elsewhere",)), ""),  # other folders: an update, not a rebuild
])
def test_a_rebuild_is_asked_for_a_format_model_or_chunker_change_only(change, reason):
    old = Manifest(**{**MANIFEST.__dict__, **change})
    assert old.rebuild_reason(MANIFEST) == reason


def test_scopes_of_the_same_contents_are_one_key():
    """A reader keeps row masks per scope: the same documents asked again hit them."""
    a, b = Scope(frozenset({"sha-1", "sha-2"})), Scope(frozenset({"sha-2", "sha-1"}))
    assert a == b and {a: 1}[b] == 1 and Scope(frozenset({"sha-1"})) != a


def test_bookkeepings_do_not_share_their_mappings():
    one, two = Bookkeeping(), Bookkeeping()
    one.files["a.txt"] = "sha"
    one.stamps["a.txt"] = (1, 2)
    assert two.files == {} and two.stamps == {} and not two.rebuild_pending
