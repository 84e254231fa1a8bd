"""File names of the embedded store and the durability helpers (fsync) its writer uses.

Layout::

    INDEX/meta.sqlite (+ -wal, -shm)   the truth: manifest, files, contents, pages, chunks,
                                       the live segment list, tombstones (SQLite, WAL)
    INDEX/seg-000012/                  an immutable segment: ids, vectors, lexical postings,
                                       and for large merged segments an HNSW graph
    INDEX/seg-000013.tmp/              a segment being written (never referenced)
    INDEX/.lock                        held by the one writer (fcntl)
    INDEX/.merge-lock                  held by the one merger (fcntl), which runs beside writers
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DB = "meta.sqlite"
LOCK = ".lock"
MERGE_LOCK = ".merge-lock"
SEGMENT_PREFIX = "seg-"
TMP_SUFFIX = ".tmp"
LEGACY = ("CURRENT", "CURRENT.tmp")  # the generation-copy layout of format 1


def segment_name(number: int) -> str:
    return f"{SEGMENT_PREFIX}{number:06d}"


def segment_dirs(root: Path) -> list[Path]:
    return [p for p in root.glob(SEGMENT_PREFIX + "*") if p.is_dir()]


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def try_lock(root: Path, name: str, wait: bool = False) -> Iterator[bool]:
    """The fcntl lock ``root/name``: yields True when this process holds it, False when another
    holder has it and ``wait`` is False."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def publish_folder(tmp: Path, final: Path) -> None:
    """Make a folder written at ``tmp`` durable, then give it its name ``final``."""
    fsync_tree(tmp)
    tmp.rename(final)
    fsync_dir(final.parent)


def fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_legacy(root: Path) -> None:
    """Drop the files of the format-1 layout (whole generation copies) once format 2 is live."""
    for name in LEGACY:
        (root / name).unlink(missing_ok=True)
    for p in root.iterdir():
        if p.name.startswith(("gen-", ".build-")) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def legacy_manifest(root: Path):
    """The manifest of a format-1 index at ``root`` (None when there is none)."""
    from rag.store.protocol import Manifest

    try:
        name = (root / "CURRENT").read_text().strip()
        return Manifest.from_json(json.loads((root / name / "manifest.json").read_text()))
    except (OSError, ValueError):
        return None
