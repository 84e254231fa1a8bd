"""Merges, beside the writer: a merge never makes a write (or a reader) wait.

Why not under the writer lock: a merge of large segments (a graph for a million vectors) takes
minutes, and a user's upload committed just before it would otherwise wait for it before the
next upload could start. Segments are immutable and chunk ids survive merges, so a merge needs
only what it reads, and the one moment it must agree with the writer is the swap:

1. Under the merge lock (``.merge-lock``, one merger per index, any process), pick the group
   (merge_policy) and the tombstones of the moment, allocate the target's segment number in a
   short transaction (never the number a commit uses), write the merged segment without the
   dead rows, fsync it and rename it into place. Meanwhile writers commit as usual.
2. Swap in ONE transaction: if every source is still listed (a full rebuild may have dropped
   them: the merge is then abandoned and its folder removed), list the target, unlist the
   sources (recorded in ``retired``: readers that hold them keep their files for a further
   commit), and drop the tombstones of the rows the merge left out. Tombstones a writer added
   during the merge stay: they name chunk ids, which the target holds too, so they apply to it.

Where merges run: after each commit, in a background thread of the committing process
(``schedule``), or in the committing thread with DOCCHAT_MERGE_BACKGROUND=false. A process that
ends normally finishes its merge first (the thread is not a daemon); one that is killed leaves
it to the next writer's commit or no-change run, which schedule it again. If another process
holds the merge lock the new thread returns at once: that merger re-reads the candidates after
each merge, and any commit schedules again.
"""
from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.store.local import crash, db as dbmod
from rag.store.local import segment as segmod
from rag.store.local import segment_write as segwrite
from rag.store.local.layout import DB, MERGE_LOCK, TMP_SUFFIX, publish_folder, try_lock
from rag.store.local.merge_policy import MergePolicy, SegmentSize, candidates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeConfig:
    policy: MergePolicy
    ann: segwrite.AnnSettings
    background: bool


def run(root: Path, cfg: MergeConfig, wait: bool = True) -> int:
    """Merge while the policy finds a group; returns the number of merges done. Without
    ``wait``, returns 0 at once when another merger holds the lock."""
    done = 0
    with try_lock(root, MERGE_LOCK, wait=wait) as mine:
        if not mine:
            return 0
        db = dbmod.connect_writer(root / DB)
        try:
            while (group := _candidates(db, root, cfg.policy)):
                _merge(db, root, group, cfg.ann)
                done += 1
        finally:
            db.close()
    return done


def _candidates(db, root: Path, policy: MergePolicy) -> list[str]:
    rows = db.execute("SELECT name, rows FROM segments ORDER BY name").fetchall()
    dead = dead_per_segment(db, root, [r[0] for r in rows])
    return candidates([SegmentSize(n, r, dead.get(n, 0)) for n, r in rows], policy)


def dead_per_segment(db, root: Path, names: list[str]) -> dict[str, int]:
    dead = np.asarray([r[0] for r in db.execute("SELECT id FROM tombstones")], np.int64)
    if not len(dead):
        return {}
    out = {}
    for name in names:
        ids = np.load(root / name / "ids.npy", mmap_mode="r")
        out[name] = int(np.isin(dead, ids).sum()) if len(ids) else 0
    return out


def _merge(db, root: Path, names: list[str], ann: segwrite.AnnSettings) -> None:
    target = dbmod.allocate_segment(db, root)
    dead = np.asarray([r[0] for r in db.execute("SELECT id FROM tombstones")], np.int64)
    sources = []
    for name in names:
        seg = segmod.Segment(root / name)
        live = np.ones(len(seg), bool)
        rows = seg.rows(dead)
        live[rows[rows >= 0]] = False
        sources.append((seg, live))
    dim = sources[0][0].vectors.shape[1]
    tmp = root / (target + TMP_SUFFIX)
    log.info("merging %d segments (%d live chunks) into %s", len(names),
             sum(int(l.sum()) for _, l in sources), target)
    n = segwrite.merge(tmp, sources, dim, ann)
    crash.at("merge-written")
    gone = np.concatenate([np.asarray(s.ids)[~l] for s, l in sources])
    publish_folder(tmp, root / target)
    crash.at("merge-renamed")
    try:
        db.execute("BEGIN IMMEDIATE")
        marks = ",".join("?" * len(names))
        listed = db.execute(f"SELECT count(*) FROM segments WHERE name IN ({marks})",
                            names).fetchone()[0]
        if listed != len(names):  # a full rebuild dropped them meanwhile
            db.execute("ROLLBACK")
            log.info("merge into %s abandoned: its sources are gone", target)
            shutil.rmtree(root / target, ignore_errors=True)
            return
        gen = dbmod.generation(db) + 1
        db.execute(f"DELETE FROM segments WHERE name IN ({marks})", names)
        db.executemany("INSERT OR REPLACE INTO retired VALUES (?, ?)", [(s, gen) for s in names])
        db.executemany("DELETE FROM tombstones WHERE id = ?", [(int(i),) for i in gone])
        if n:
            db.execute("INSERT INTO segments VALUES (?, ?)", (target, n))
        dbmod.set_meta(db, "generation", str(gen))
        crash.at("merge-before-commit")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if not n:
        shutil.rmtree(root / target, ignore_errors=True)
    crash.at("merge-after-commit")


# -- background merging -------------------------------------------------------------------------
_guard = threading.Lock()
_threads: dict[Path, threading.Thread] = {}
_again: set[Path] = set()


def schedule(root: Path, cfg: MergeConfig) -> None:
    """Merge ``root`` in a background thread (one per index folder in this process; a call
    while it runs makes it look again when done)."""
    key = root.resolve()
    with _guard:
        t = _threads.get(key)
        if t is not None and t.is_alive():
            _again.add(key)
            return
        t = threading.Thread(target=_loop, args=(key, cfg), name=f"docchat merge {key.name}")
        _threads[key] = t
        t.start()


def _loop(root: Path, cfg: MergeConfig) -> None:
    while True:
        try:
            run(root, cfg, wait=False)
        except Exception:  # noqa: BLE001 - a failed merge leaves the last commit; retried later
            log.exception("merging segments of %s failed; the next commit retries", root)
        with _guard:
            if root not in _again:
                _threads.pop(root, None)
                return
            _again.discard(root)


def wait(root: Path | None = None) -> None:
    """Block until the background merges of ``root`` (of every index: None) are done."""
    while True:
        with _guard:
            pending = [t for k, t in _threads.items() if root is None or k == root.resolve()]
        if not pending:
            return
        for t in pending:
            t.join()
