"""A build killed at any moment (kill -9) leaves the previous index complete and usable, and the
next run finishes the job. Tested by killing a real ``python -m rag index`` process: while it
loads, embeds, writes its segment, and merges segments."""
from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import clean_env, docchat

from rag.index import Index
from rag.settings import Settings
from rag.store import open_store

pytestmark = pytest.mark.slow

SUBJECTS = ["The committee", "A farmer", "The old bridge", "Our reporter", "The river", "A nurse",
            "The council", "The museum", "A pilot", "The orchestra", "The harbour", "A student"]
VERBS = ["described", "questioned", "repaired", "photographed", "measured", "celebrated",
         "ignored", "explained", "visited", "rebuilt", "studied", "mapped"]
OBJECTS = ["the northern canal", "a broken turbine", "the winter market", "an ancient map",
           "the city budget", "a flooded tunnel", "the village school", "a rare orchid",
           "the coastal railway", "a lost manuscript", "the copper mine", "a new vaccine"]
TAILS = ["after the storm", "before dawn", "for three weeks", "with great care", "in secret",
         "despite the cost", "during the festival", "without any help", "at the request of many"]
OLD_WORD, NEW_WORD = "aardvark", "quokka"
N_FILES = 150  # about 450 chunks: several seconds of embedding on 2 cores


def write_corpus(folder: Path, n_files: int, sentences: int, word: str, seed: int) -> None:
    """``n_files`` text files of varied sentences; each file mentions ``word`` once."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for i in range(n_files):
        lines = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                 f"{rng.choice(TAILS)}." for _ in range(sentences)]
        lines.insert(rng.randrange(len(lines)), f"Note {i}: the {word} number {i} was seen.")
        (folder / f"doc-{i:04d}.txt").write_text(" ".join(lines) + "\n")


class Build:
    """A running ``docchat -v index`` whose log lines are timestamped as they arrive."""

    def __init__(self, docs: Path, root: Path, env: dict[str, str] | None = None) -> None:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "-v", "index", str(docs), "--index", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=env or clean_env())
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append((time.monotonic() - self.t0, line.strip()))

    def seen(self, text: str) -> float | None:
        return next((t for t, line in self.lines if text in line), None)

    def kill(self) -> bool:
        """SIGKILL the build; False when it had finished before the signal."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        return self.proc.returncode == -signal.SIGKILL


def kill_when(build: Build, ready) -> bool:
    while build.proc.poll() is None:
        if ready():
            return build.kill()
        time.sleep(0.002)
    return build.kill()


def generation(root: Path) -> int:
    return open_store(root).generation()


def assert_consistent(root: Path) -> None:
    """SQLite, the segment list and the tombstones describe the same chunks."""
    snap = open_store(root).reader()
    st = snap.stats()
    assert st.chunks == snap.count_chunks() == st.vectors
    assert sum(int(live.sum()) for _, live in snap.segments()) == st.vectors
    snap.close()


def assert_previous_index_intact(root: Path, previous_gen: int, before) -> None:
    assert generation(root) == previous_gen, "a partial state went live"
    assert_consistent(root)
    idx = Index.open(root, Settings(index_dir=str(root)))
    status = idx.status()
    assert (status.files, status.chunks) == (before.files, before.chunks)
    hits = idx.search(f"the {OLD_WORD} was seen", k=5)
    assert hits and all(OLD_WORD in h.text for h in hits)
    assert not any(NEW_WORD in h.text for h in idx.search(f"the {NEW_WORD} was seen", k=5))
    assert docchat("status", "--index", root).returncode == 0


def test_a_build_killed_at_any_moment_leaves_the_previous_index_and_the_next_run_finishes(
        tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs, 20, 8, OLD_WORD, seed=1)
    first = docchat("index", docs, "--index", root)
    assert first.returncode == 0, first.stderr
    previous_gen = generation(root)
    before = Index.open(root, Settings(index_dir=str(root))).status()

    write_corpus(docs, N_FILES, 40, NEW_WORD, seed=2)
    existing: set[Path] = set()

    def new_entry(prefix: str, complete: bool = False) -> bool:
        """A new segment folder: being written (``seg-N.tmp``) or, with ``complete``, synced
        and renamed but not yet listed by a committed transaction."""
        return any(p not in existing and p.name.startswith(prefix) and
                   (not complete or not p.name.endswith(".tmp")) for p in root.iterdir())

    moments = {"0.5 s": lambda b: time.monotonic() - b.t0 >= 0.5,
               "2 s": lambda b: time.monotonic() - b.t0 >= 2,
               # the weights load in under a second; encoding the corpus takes several more
               "embedding": lambda b: (t := b.seen("loading embedding model")) is not None and
               time.monotonic() - b.t0 >= t + 1.5,
               "writing starts": lambda b: new_entry("seg-"),
               "writing ends": lambda b: new_entry("seg-", complete=True)}
    backup = tmp_path / "backup"
    shutil.copytree(root, backup)
    for moment, ready in moments.items():
        for _ in range(3):
            existing = set(root.iterdir())
            build = Build(docs, root)
            if kill_when(build, lambda: ready(build)) and generation(root) == previous_gen:
                break
            # the build won the race (it committed, or finished, before the signal): put the
            # previous index back and retry
            shutil.rmtree(root)
            shutil.copytree(backup, root)
        else:
            pytest.fail(f"could not catch the build at '{moment}' in 3 attempts")
        if not moment.startswith("writing"):
            assert not new_entry("seg-"), f"'{moment}' came too late: the build was writing"
        assert_previous_index_intact(root, previous_gen, before)

    final = Build(docs, root)
    seen = set()
    while final.proc.poll() is None:  # a reader meanwhile only ever sees a whole state
        snap = open_store(root).reader()
        st = snap.stats()
        seen.add((st.files, st.chunks))
        assert snap.count_chunks() == st.chunks == st.vectors
        snap.close()
        time.sleep(0.05)
    assert final.kill() is False and final.proc.returncode == 0
    status = Index.open(root, Settings(index_dir=str(root))).status()
    assert status.files == N_FILES
    assert seen <= {(before.files, before.chunks), (status.files, status.chunks)}
    idx = Index.open(root, Settings(index_dir=str(root)))
    hits = idx.search(f"the {NEW_WORD} number 77 was seen", k=3)
    assert any(f"{NEW_WORD} number 77 " in h.text for h in hits)
    assert not any(OLD_WORD in h.text for h in idx.search(f"the {OLD_WORD} was seen", k=5))
    assert not list(root.glob("seg-*.tmp")), "unfinished segments of killed builds were left"
    assert_consistent(root)


MERGE_ENV = {"DOCCHAT_MERGE_FACTOR": "3", "DOCCHAT_MERGE_FLOOR": "100000",
             # an HNSW graph for the merged segment, built slowly enough to be caught
             "DOCCHAT_ANN_MIN_VECTORS": "50", "DOCCHAT_HNSW_M": "64",
             "DOCCHAT_HNSW_EF_CONSTRUCTION": "800"}


def test_a_build_killed_while_merging_segments_leaves_the_last_commit_and_is_cleaned_up(
        tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    env = clean_env(**MERGE_ENV)
    write_corpus(docs / "a", 20, 8, OLD_WORD, seed=1)
    assert docchat("index", docs, "--index", root, env=env).returncode == 0
    write_corpus(docs / "b", 1, 8, OLD_WORD, seed=3)
    assert docchat("index", docs, "--index", root, env=env).returncode == 0
    write_corpus(docs / "c", N_FILES, 40, NEW_WORD, seed=2)  # its commit makes a third segment
    backup = tmp_path / "backup"
    shutil.copytree(root, backup)
    committed = generation(root) + 1  # the generation of the commit that precedes the merge
    for _ in range(3):
        build = Build(docs, root, env)
        killed = kill_when(build, lambda: build.seen("merging") is not None)
        if killed and generation(root) == committed:
            break
        shutil.rmtree(root)  # the merge finished before the signal: retry
        shutil.copytree(backup, root)
    else:
        pytest.fail("could not catch the build while merging in 3 attempts")
    assert open_store(root).reader().stats().segments == 3, "the merge must not have landed"
    assert_consistent(root)
    idx = Index.open(root, Settings(index_dir=str(root)))
    assert idx.status().files == 21 + N_FILES
    assert any(f"{NEW_WORD} number 77 " in h.text
               for h in idx.search(f"the {NEW_WORD} number 77 was seen", k=3))
    rerun = docchat("index", docs, "--index", root, "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert open_store(root).unreferenced() == [] and not list(root.glob("seg-*.tmp"))
    snap = open_store(root).reader()
    assert snap.stats().segments == 1 and snap.stats().files == 21 + N_FILES
    assert_consistent(root)
