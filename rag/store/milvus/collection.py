"""The Milvus side: connecting, the collection schema, filters, and every call docchat makes.

pymilvus is imported here, lazily (only when a milvus:// store is opened), so the default
product never needs it. Every read is made with consistency level ``Strong``: a search sees
every write acknowledged before it started, so a reader that learns a new generation from the
bookkeeping database finds that generation's rows (see docs/scale-out.md for the trade-off).
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

from rag.errors import DocchatError
from rag.store_url import StoreURL

#: Every read and the collection itself use Strong consistency (see the module docstring).
CONSISTENCY = "Strong"
#: Rows per insert call: about 1 MB of 384-dim vectors plus text, well under Milvus's 64 MB
#: gRPC message cap, and few enough calls for 50,000 chunks.
INSERT_BATCH = 500
#: Ids per query call (Milvus caps a query's result window at 16,384 rows).
QUERY_BATCH = 1000
#: Milvus's cap on a search's limit (topk).
MAX_TOPK = 16384
TEXT_MAX = 65535  # VARCHAR max_length: Milvus's maximum
PATH_MAX = 4096
SHA_MAX = 64
FIELDS = ("id", "gen", "sha", "path", "page", "start", "end", "text", "index_text", "label",
          "context", "structure")
CHUNK_FIELDS = ("id", "sha", "page", "start", "end", "text", "label", "context", "structure")


class MilvusStoreError(DocchatError):
    """A Milvus call failed (server unreachable, milvus-lite database held by another
    process, ...); the message names the store and the reason."""


@contextmanager
def errors(where: str) -> Iterator[None]:
    """Turn pymilvus exceptions into one-line MilvusStoreErrors naming ``where``."""
    import grpc
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as e:
        raise MilvusStoreError(f"{where}: {getattr(e, 'message', '') or e}") from e
    except grpc.RpcError as e:  # what pymilvus passes through as it is: a deadline exceeded,
        # a login refused (its text is several lines: details and code instead)
        code = getattr(e, "code", None)
        why = f"{e.details()} ({code().name})" if code else str(e).strip().splitlines()[0]
        raise MilvusStoreError(f"{where}: {why}") from e


def connect(url: StoreURL, settings):
    """A MilvusClient for ``url`` (credentials and timeout from ``settings``)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusStoreError("a milvus:// store needs pymilvus (and milvus-lite for a .db): "
                               "pip install 'docchat[milvus]'") from None
    kw: dict = {"timeout": settings.milvus_timeout}
    if url.lite:
        # milvus-lite's in-process gRPC server logs an ERROR for each call it does not
        # implement (AllocTimestamp, which pymilvus asks for once per created index and then
        # does without): noise for the user, not a failure
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    if not url.lite:
        if settings.milvus_token:
            kw["token"] = settings.milvus_token
        elif settings.milvus_user:
            kw["user"], kw["password"] = settings.milvus_user, settings.milvus_password
    try:
        with errors(f"cannot open Milvus at {url.uri}"):
            return MilvusClient(url.uri, **kw)
    except MilvusStoreError as e:
        if url.lite and "open local milvus failed" in str(e).lower():
            raise MilvusStoreError(
                f"cannot open milvus-lite database {url.path}: another process has it open "
                "(milvus-lite serves one process; run a Milvus server for several)") from None
        raise


def create(client, name: str, dim: int, k1: float, b: float, lite: bool) -> None:
    """A chunk collection: pk = chunk id, provenance, text, dense vector, BM25 sparse vector
    computed by Milvus from ``index_text`` (context + text, as the embedded store indexes)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("gen", DataType.INT64)  # the commit that wrote the row: readers filter on it
    s.add_field("sha", DataType.VARCHAR, max_length=SHA_MAX)
    s.add_field("path", DataType.VARCHAR, max_length=PATH_MAX)  # first path, at insert time
    for f in ("page", "start", "end"):
        s.add_field(f, DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
    s.add_field("index_text", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True)
    for f in ("label", "context", "structure"):
        s.add_field(f, DataType.VARCHAR, max_length=TEXT_MAX)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                            input_field_names=["index_text"], output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    # exact search on milvus-lite (its only sensible choice); the server picks its own ANN
    ip.add_index("dense", index_type="FLAT" if lite else "AUTOINDEX", metric_type="IP")
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": k1, "bm25_b": b})
    with errors(f"cannot create collection {name}"):
        client.create_collection(name, schema=s, index_params=ip,
                                 consistency_level=CONSISTENCY)


def row(cid: int, gen: int, sha: str, path: str, chunk, text_for_index: str,
        vec: np.ndarray) -> dict:
    for what, value, cap in (("path", path, PATH_MAX), ("text", chunk.text, TEXT_MAX),
                             ("context", chunk.context, TEXT_MAX),
                             ("index text", text_for_index, TEXT_MAX)):
        if len(value.encode("utf-8")) > cap:
            raise MilvusStoreError(f"{path}: a chunk's {what} is longer than Milvus's "
                                   f"{cap}-byte field")
    return {"id": int(cid), "gen": int(gen), "sha": sha, "path": path, "page": int(chunk.page),
            "start": int(chunk.start), "end": int(chunk.end), "text": chunk.text,
            "index_text": text_for_index, "label": chunk.label, "context": chunk.context,
            "structure": json.dumps([list(s) for s in chunk.structure]) if chunk.structure
            else "", "dense": np.asarray(vec, np.float32).tolist()}


def visible(gen: int, tombstones: Sequence[str]) -> str:
    """The filter of a snapshot: rows committed at or before ``gen`` whose content is not
    tombstoned (deleted by a commit whose Milvus delete has not run yet)."""
    expr = f"gen <= {int(gen)}"
    if tombstones:
        expr += f" and sha not in {json.dumps(sorted(tombstones))}"
    return expr


def id_filter(ids: Sequence[int], base: str) -> str:
    return f"id in [{','.join(str(int(i)) for i in ids)}] and {base}"


def sha_filter(shas: Sequence[str]) -> str:
    return f"sha in {json.dumps(sorted(shas))}"
