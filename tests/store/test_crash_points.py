"""A build that dies at any named point of the store's write path (rag/store/local/crash.py)
leaves the last committed state complete and readable, shows nothing of the dying run, and the
next run cleans up and reaches the state a run that never crashed reaches.

The crash is deterministic and real: the build runs in a fresh process with
``DOCCHAT_CRASH_AT=<point>``, which calls ``os._exit(137)`` there (no cleanup, no ``finally``).
Real files, SQLite and segment folders, the real builder and store, merges in their background
thread as in production; the embedding model is replaced by per-text hashed vectors (a stand-in,
so that each crash costs a second, not a model load; the same text always gets the same vector,
so a crashed-then-resumed index can be compared with one that never crashed, score for score).
The timed SIGKILL tests with the real model stay in tests/store/test_atomic.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

from rag.index import Index
from rag.settings import Settings
from rag.store import open_store
from rag.store.local import crash
from rag.store.local.layout import MERGE_LOCK, try_lock
from test_store import HashEmbedder, ranked, write_docs

#: A small index that merges often: three segments of the lowest tier are merged into one.
ENV = {"DOCCHAT_MERGE_FACTOR": "3", "DOCCHAT_MERGE_FLOOR": "1000", "DOCCHAT_CHUNK_TOKENS": "40",
       "DOCCHAT_CHUNK_OVERLAP": "0"}
QUERIES = ["river bridge", "falcon quarry", "quokka", "aardvark burrow", "saffron violin beacon"]

RUNNER = r"""
import json, sys
sys.path.insert(0, sys.argv[4])  # the tests folder: tests/fakes.py
from rag.index import Index
from rag.settings import Settings
from fakes import HashEmbedder

docs, root, full = sys.argv[1], sys.argv[2], sys.argv[3] == "full"
s = Index(root, Settings.from_env(index_dir=root), embedder=HashEmbedder()).update([docs], full=full)
print(json.dumps({"full_rebuild": s.full_rebuild, "reason": s.reason, "embedded": s.embedded,
                  "chunks": s.chunks}))
"""


def run(docs: Path, root: Path, crash_at: str = "", full: bool = False):
    """One build in a fresh process (crashing at ``crash_at``)."""
    env = clean_env(**ENV, **({"DOCCHAT_CRASH_AT": crash_at} if crash_at else {}))
    return subprocess.run([sys.executable, "-c", RUNNER, str(docs), str(root),
                           "full" if full else "inc", str(Path(__file__).parents[1])],
                          capture_output=True, text=True, env=env, timeout=300)


def settings(root: Path) -> Settings:
    return Settings(index_dir=str(root), merge_factor=3, merge_floor=1000, chunk_tokens=40,
                    chunk_overlap=0, merge_background=False)


def answers(root: Path) -> dict:
    """What a reader answers: ranked lexical and dense results of every query, and counts."""
    snap = open_store(root).reader()
    try:
        st = snap.stats()
        out = {"files": st.files, "chunks": st.chunks}
        for q in QUERIES:
            out["lex " + q] = ranked(snap, snap.search_lexical(q, 20))
            out["dense " + q] = ranked(snap, snap.search_dense(HashEmbedder().encode([q])[0], 10))
        return out
    finally:
        snap.close()


def assert_consistent(root: Path) -> None:
    snap = open_store(root).reader()
    st = snap.stats()
    assert st.chunks == snap.count_chunks() == st.vectors
    assert sum(int(live.sum()) for _, live in snap.segments()) == st.vectors
    snap.close()


def assert_clean(root: Path) -> None:
    assert open_store(root).unreferenced() == [], "segment folders no commit references"
    assert not list(root.glob("seg-*.tmp"))


def base(tmp_path: Path) -> tuple[Path, Path]:
    """An index of two commits (two segments of the lowest tier), and the docs of the run that
    will crash: three files added, one changed, one removed (its commit makes a merge due)."""
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 6, seed=1)
    (docs / "old.txt").write_text("The aardvark burrow lies under the river bridge.\n")
    build(docs, root)
    write_docs(docs, 3, seed=2, prefix="second")
    build(docs, root)
    assert open_store(root).reader().stats().segments == 2
    return docs, root


def change(docs: Path) -> None:
    write_docs(docs, 3, seed=3, prefix="new")
    (docs / "quokka.txt").write_text("A quokka crossed the falcon quarry at dawn.\n")
    (docs / "doc-000.txt").write_text("Saffron violin beacon, rewritten entirely.\n")
    (docs / "old.txt").unlink()


def build(docs: Path, root: Path) -> None:
    """A build in this process (that does not crash)."""
    Index(root, settings(root), embedder=HashEmbedder()).update([str(docs)])


def reference(tmp_path: Path, docs: Path) -> dict:
    """The answers of an index built from ``docs`` by runs that never crashed."""
    build(docs, tmp_path / "reference")
    return answers(tmp_path / "reference")


def test_every_crash_point_is_reached_by_some_test():
    tested = set(BEFORE_COMMIT) | set(AFTER_COMMIT) | {"cleaning", "no-change", "reset-pending"}
    assert tested == set(crash.POINTS)


BEFORE_COMMIT = ["segment-written", "segment-renamed", "before-commit"]
AFTER_COMMIT = ["after-commit", "merge-written", "merge-renamed", "merge-before-commit",
                "merge-after-commit"]


@pytest.mark.parametrize("point", BEFORE_COMMIT)
def test_a_crash_before_the_commit_shows_nothing_and_the_next_run_does_the_work(tmp_path,
                                                                                 point):
    docs, root = base(tmp_path)
    before, gen = answers(root), open_store(root).generation()
    change(docs)
    proc = run(docs, root, point)
    assert proc.returncode == crash.EXIT_CODE, proc.stderr[-2000:]
    assert open_store(root).generation() == gen, "a partial state went live"
    assert answers(root) == before  # complete, readable, and nothing of the crashed run
    assert_consistent(root)
    left = list(root.glob("seg-*"))
    assert len(left) == 3 and open_store(root).unreferenced(), "the crash left its segment"
    proc = run(docs, root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert answers(root) == reference(tmp_path, docs)
    assert_clean(root)
    assert_consistent(root)


@pytest.mark.parametrize("point", AFTER_COMMIT)
def test_a_crash_after_the_commit_keeps_it_and_the_next_run_finishes_the_merge(tmp_path, point):
    docs, root = base(tmp_path)
    gen = open_store(root).generation()
    change(docs)
    want = reference(tmp_path, docs)
    proc = run(docs, root, point)
    assert proc.returncode == crash.EXIT_CODE, proc.stderr[-2000:]
    merged = point == "merge-after-commit"
    assert open_store(root).generation() == gen + 1 + merged
    # the commit is whole, and a merge (done or not) changes no answer
    assert answers(root) == want
    assert_consistent(root)
    assert open_store(root).reader().stats().segments == (1 if merged else 3)
    proc = run(docs, root)  # nothing changed: it still finishes the merge and cleans up
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert answers(root) == want
    assert open_store(root).reader().stats().segments == 1
    assert_clean(root)
    assert_consistent(root)


def test_a_crash_while_cleaning_leftovers_leaves_the_rest_for_the_next_writer(tmp_path):
    docs, root = base(tmp_path)
    before, gen = answers(root), open_store(root).generation()
    change(docs)
    assert run(docs, root, "segment-written").returncode == crash.EXIT_CODE
    with try_lock(root, MERGE_LOCK) as held:  # a merger runs: the next writer cleans nothing
        assert held
        assert run(docs, root, "segment-renamed").returncode == crash.EXIT_CODE
    orphans = open_store(root).unreferenced()
    assert len(orphans) == 2 and any(o.endswith(".tmp") for o in orphans)
    proc = run(docs, root, "cleaning")
    assert proc.returncode == crash.EXIT_CODE, proc.stderr[-2000:]
    assert len(open_store(root).unreferenced()) == 1, "it dies after removing one of two"
    assert open_store(root).generation() == gen and answers(root) == before
    assert run(docs, root).returncode == 0
    assert answers(root) == reference(tmp_path, docs)
    assert_clean(root)
    assert_consistent(root)


def test_a_crash_in_a_run_that_changes_nothing_changes_nothing(tmp_path):
    docs, root = base(tmp_path)
    before, gen = answers(root), open_store(root).generation()
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    proc = run(docs, root, "no-change")
    assert proc.returncode == crash.EXIT_CODE, proc.stderr[-2000:]
    assert open_store(root).generation() == gen and answers(root) == before
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == folders  # none left
    proc = run(docs, root)
    assert proc.returncode == 0 and json.loads(proc.stdout)["embedded"] == 0
    assert open_store(root).generation() == gen


@pytest.mark.parametrize("point", ["reset-pending", "segment-written", "before-commit"])
def test_a_killed_full_rebuild_is_resumed_by_the_next_run(tmp_path, point):
    docs, root = base(tmp_path)
    before, gen = answers(root), open_store(root).generation()
    change(docs)
    proc = run(docs, root, point, full=True)
    assert proc.returncode == crash.EXIT_CODE, proc.stderr[-2000:]
    assert open_store(root).generation() == gen and answers(root) == before
    proc = run(docs, root)  # a plain run: it must finish the rebuild, not a mere update
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["full_rebuild"] and summary["reason"].startswith("resuming a full rebuild")
    assert summary["embedded"] == summary["chunks"]  # every content embedded again
    assert answers(root) == reference(tmp_path, docs)
    assert_clean(root)
    assert_consistent(root)
    again = run(docs, root)  # and only once
    assert again.returncode == 0 and not json.loads(again.stdout)["full_rebuild"]
