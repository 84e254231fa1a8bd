"""The crash points of the embedded store's write path (rag/store/local/crash.py): an unknown
point is refused at once, and a named one kills the process there, with the exit code a shell
reports for SIGKILL and nothing flushed. (Every point in a real build:
tests/store/test_crash_points.py.)"""
from __future__ import annotations

from conftest import clean_env, docchat
from test_store import write_docs

from rag.store.local import crash


def test_an_unknown_crash_point_is_refused_in_one_line(tmp_path):
    docs = tmp_path / "docs"
    write_docs(docs, 1, seed=1)
    proc = docchat("index", docs, "--index", tmp_path / "index",
                   env=clean_env(DOCCHAT_CRASH_AT="nowhere"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("docchat: error: DOCCHAT_CRASH_AT='nowhere': must be one of "
                                   + ", ".join(crash.POINTS))
    assert not list((tmp_path / "index").glob("seg-*"))
