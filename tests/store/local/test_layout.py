"""The embedded store's files (rag/store/local/layout.py): segment folder names, the writer's
and the merger's locks, publishing a folder, and clearing the format-1 layout, all inside the
index folder (tmp_path)."""
from __future__ import annotations

import json
import threading
import time

from rag.store.local.layout import (DB, LOCK, MERGE_LOCK, TMP_SUFFIX, legacy_manifest,
                                    publish_folder, remove_legacy, segment_dirs, segment_name,
                                    try_lock, writer_lock)
from rag.store.protocol import ChunkerSettings, Manifest


def test_segment_names_sort_in_number_order():
    numbers = [1, 2, 9, 10, 11, 99, 100, 12345, 999999]
    names = [segment_name(n) for n in numbers]
    assert sorted(names) == names and len(set(names)) == len(names)
    assert segment_name(12) == "seg-000012"  # the names indexes on disk already have


def test_segment_dirs_are_every_segment_folder_finished_or_being_written(tmp_path):
    for name in (segment_name(2), segment_name(10), segment_name(11) + TMP_SUFFIX, "gen-000001"):
        (tmp_path / name).mkdir()
    (tmp_path / segment_name(12)).write_text("a file, not a segment")
    (tmp_path / DB).write_text("")
    assert sorted(p.name for p in segment_dirs(tmp_path)) == [
        "seg-000002", "seg-000010", "seg-000011.tmp"]
    assert all(p.parent == tmp_path for p in segment_dirs(tmp_path))


def test_a_held_lock_is_refused_to_a_second_holder_until_released(tmp_path):
    root = tmp_path / "index"
    with try_lock(root, MERGE_LOCK) as first:
        assert first and (root / MERGE_LOCK).is_file()  # the folder is made for it
        with try_lock(root, MERGE_LOCK) as second:  # its own open file, as another process
            assert second is False
    with try_lock(root, MERGE_LOCK) as again:
        assert again


def test_waiting_for_a_lock_returns_once_its_holder_lets_go(tmp_path):
    held, released = threading.Event(), []

    def holder():
        with try_lock(tmp_path, MERGE_LOCK):
            held.set()
            time.sleep(0.2)
            released.append(time.monotonic())

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    with try_lock(tmp_path, MERGE_LOCK, wait=True) as mine:
        got = time.monotonic()
        assert mine and released and got >= released[0]
    t.join()


def test_the_writer_lock_excludes_writers_but_not_the_merger(tmp_path):
    root = tmp_path / "new-index"
    with writer_lock(root):
        with try_lock(root, LOCK) as other_writer:
            assert other_writer is False
        with try_lock(root, MERGE_LOCK) as merger:
            assert merger  # a merge runs beside a writer
    with try_lock(root, LOCK) as next_writer:
        assert next_writer


def test_a_published_folder_takes_its_final_name_whole(tmp_path):
    tmp = tmp_path / (segment_name(7) + TMP_SUFFIX)
    (tmp / "sub").mkdir(parents=True)
    (tmp / "ids.npy").write_bytes(b"\x93NUMPY")
    (tmp / "sub" / "vocab.txt").write_text("river\nbridge", encoding="utf-8")
    final = tmp_path / segment_name(7)
    publish_folder(tmp, final)
    assert not tmp.exists()
    assert (final / "ids.npy").read_bytes() == b"\x93NUMPY"
    assert (final / "sub" / "vocab.txt").read_text(encoding="utf-8") == "river\nbridge"


def test_removing_the_legacy_layout_keeps_the_new_one_and_stays_inside_the_index(tmp_path):
    root, outside = tmp_path / "index", tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the index's")
    for name in ("gen-000003", ".build-123", segment_name(4)):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    for name in ("CURRENT", "CURRENT.tmp", DB, LOCK, "gen-notes.txt"):
        (root / name).write_text("x")
    (root / "gen-link").symlink_to(outside, target_is_directory=True)
    remove_legacy(root)
    left = sorted(p.name for p in root.iterdir())
    assert "CURRENT" not in left and "CURRENT.tmp" not in left
    assert not any(n.startswith((".build-", "gen-0")) for n in left)
    assert {segment_name(4), DB, LOCK, "gen-notes.txt"} <= set(left)  # files are not folders
    assert (outside / "keep.txt").read_text() == "not the index's"
    remove_legacy(root)  # a second time (every commit calls it) changes nothing
    assert sorted(p.name for p in root.iterdir()) == left


def test_the_manifest_of_a_format_1_index_is_read_else_none(tmp_path):
    want = Manifest(format=1, model="sentence-transformers/all-MiniLM-L6-v2", dim=384,
                    chunker=ChunkerSettings(3, 200, 40), roots=("/docs",))
    gen = tmp_path / "gen-000003"
    gen.mkdir()
    (gen / "manifest.json").write_text(json.dumps(want.to_json()))
    assert legacy_manifest(tmp_path) is None  # no CURRENT: not a format-1 index
    (tmp_path / "CURRENT").write_text("gen-000003\n")
    assert legacy_manifest(tmp_path) == want
    (gen / "manifest.json").write_text("{not json")
    assert legacy_manifest(tmp_path) is None
    (tmp_path / "CURRENT").write_text("gen-000009")
    assert legacy_manifest(tmp_path) is None
