"""The crash points of the embedded store's write path (rag/store/local/crash.py): an unknown
point is refused at once, and a named one kills the process there, with the exit code a shell
reports for SIGKILL and nothing flushed. (Every point in a real build:
tests/store/test_crash_points.py.)"""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, clean_env, docchat
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

# A process that reaches points in order, flushing nothing itself: what it printed before the
# crash stays in its buffer, and its ``finally`` writes a file.
REACH = r"""
import sys
from pathlib import Path
from rag.store.local import crash
try:
    for point in sys.argv[2:]:
        print("reached", point)
        crash.at(point)
finally:
    Path(sys.argv[1]).write_text("cleaned up")
"""


def reach(tmp_path, *points: str, crash_at: str | None = None):
    env = clean_env(PYTHONPATH=str(ROOT), **({"DOCCHAT_CRASH_AT": crash_at} if crash_at else {}))
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe is then buffered, as in production
    return subprocess.run([sys.executable, "-c", REACH, str(tmp_path / "finally"), *points],
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_named_point_kills_the_process_there_with_no_cleanup_and_no_flush(tmp_path):
    proc = reach(tmp_path, "segment-written", "before-commit", "after-commit",
                 crash_at="before-commit")
    assert proc.returncode == crash.EXIT_CODE == 137, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # buffered output lost, as in a power cut
    assert not (tmp_path / "finally").exists()  # no finally ran


def test_without_the_variable_every_point_is_passed_through(tmp_path):
    proc = reach(tmp_path, *crash.POINTS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"reached {p}" for p in crash.POINTS]
    assert (tmp_path / "finally").read_text() == "cleaned up"


def test_every_point_the_write_path_names_is_a_known_point_and_every_known_one_is_named():
    """A point called in the code but missing from POINTS could never be chosen; one listed but
    never called would make its crash test pass without crashing where it says."""
    called = set()
    for path in (ROOT / "rag" / "store").rglob("*.py"):
        if path.name == "crash.py":  # its docstrings show the call
            continue
        called |= set(re.findall(r'crash\.at\("([^"]+)"\)', path.read_text(encoding="utf-8")))
    assert called == set(crash.POINTS)
