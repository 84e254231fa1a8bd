"""rag/per_process.py: a model or client is made once per process and key, even when two
threads ask for it at once; a failed make leaves nothing behind."""
from __future__ import annotations

import threading
import time

import pytest

from rag.per_process import PerProcess


def test_two_threads_asking_at_once_get_the_one_object_made_once():
    made = []

    def make():
        time.sleep(0.05)  # a model loading
        made.append(1)
        return object()

    shared: PerProcess[str, object] = PerProcess("test")
    got = []
    threads = [threading.Thread(target=lambda: got.append(shared.get("k", make)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len({id(g) for g in got}) == 1
    assert shared.get("other", object) is not got[0] and len(shared) == 2


def test_a_failed_make_stores_nothing_and_remove_hands_back_what_it_forgets():
    shared: PerProcess[tuple, str] = PerProcess("test")

    def broken():
        raise OSError("model file missing")

    with pytest.raises(OSError):
        shared.get(("a", 1), broken)
    assert shared.get(("a", 1), lambda: "loaded") == "loaded"
    shared.get(("b", 1), lambda: "other")
    assert shared.remove(lambda key: key[0] == "a") == ["loaded"]
    assert shared.get(("a", 1), lambda: "again") == "again" and len(shared) == 2


def making_slowly(shared: PerProcess, key: str, value: str):
    """Start a thread making ``key`` until the returned event is set; returns (event,
    thread), once the make has begun."""
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(5)
        return value

    t = threading.Thread(target=lambda: shared.get(key, slow))
    t.start()
    assert started.wait(5)
    return release, t


def test_making_one_key_does_not_hold_up_another():
    """A slow first make (an ONNX export) must not block a thread that wants a different
    key: the registry's lock is not held while making."""
    shared: PerProcess[str, object] = PerProcess("test")
    release, t = making_slowly(shared, "checker", "exported")
    t0 = time.perf_counter()
    assert shared.get("reader", lambda: "loaded") == "loaded"
    assert time.perf_counter() - t0 < 1.0  # before the fix: waited for the release
    release.set()
    t.join(5)
    assert shared.get("checker", object) == "exported"


def test_remove_waits_for_a_make_in_progress_and_forgets_what_it_made():
    """Otherwise a client made while it was being removed (a Milvus client of a stopped
    server, a GGUF engine at shutdown) would stay registered and never be closed."""
    shared: PerProcess[str, str] = PerProcess("test")
    release, t = making_slowly(shared, "milvus", "client")
    threading.Timer(0.2, release.set).start()
    assert shared.remove(lambda key: key == "milvus") == ["client"]
    t.join(5)
    assert len(shared) == 0 and shared.get("milvus", lambda: "new") == "new"
