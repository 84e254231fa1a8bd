"""A source that is missing (a typo, an unmounted drive) is an error that changes nothing,
never "all its files were deleted" (issue 20, item 1)."""
from __future__ import annotations


import pytest
from conftest import clean_env, docchat

from rag.errors import SourceMissingError
from rag.index import Index
from rag.settings import Settings
from fakes import HashEmbedder


def build(tmp_path, n=5):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        (docs / f"note{i}.txt").write_text(f"Note {i} says the falcon nests in quarry {i}.\n")
    root = tmp_path / "index"
    idx = Index(root, Settings(index_dir=str(root)), embedder=HashEmbedder())
    idx.update([docs])
    return idx, docs


def test_a_source_folder_gone_for_a_while_keeps_its_documents(tmp_path):
    idx, docs = build(tmp_path)
    away = tmp_path / "unmounted"
    docs.rename(away)
    with pytest.raises(SourceMissingError, match="source not found"):
        idx.update()
    assert idx.status().files == 5
    assert idx.search("falcon quarry 3", 3)
    away.rename(docs)  # the drive is back: nothing to do, nothing embedded again
    s = idx.update()
    assert (s.added, s.removed, s.embedded) == ((), (), 0)
    assert idx.status().files == 5


def test_a_mistyped_path_on_the_command_line_is_one_line_and_loses_nothing(tmp_path):
    idx, docs = build(tmp_path)
    r = docchat("index", "--index", idx.root, tmp_path / "dcos", env=clean_env())
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "source not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert idx.status().files == 5


def test_naming_the_sources_to_keep_drops_the_others_explicitly(tmp_path):
    idx, docs = build(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "kept.txt").write_text("The kept note is about a heron.\n")
    s = idx.update([other])  # the user names what to keep: docs' files go, on purpose
    assert len(s.removed) == 5 and idx.status().files == 1


# ---------------------------------------------------------------- names that are not UTF-8
LATIN1 = "r\xe9sum\xe9".encode("latin-1")  # what a Windows-made zip or an old disk leaves


def write_latin1(folder, stem=LATIN1, text="The r\xe9sum\xe9 lists ten years at the mill.\n"):
    import os

    path = os.path.join(os.fsencode(folder), stem + b".txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_a_name_that_is_not_utf8_is_skipped_with_a_reason_and_the_others_are_indexed(tmp_path):
    import os

    idx, docs = build(tmp_path)
    write_latin1(docs)
    bad_dir = os.path.join(os.fsencode(docs), b"d\xe9p\xf4t")
    os.mkdir(bad_dir)
    write_latin1(os.fsdecode(bad_dir), b"inside")
    (docs / "new.txt").write_text("The new note says the heron nests by the weir.\n")
    s = idx.update([docs])
    assert s.added == (str((docs / "new.txt").resolve()),) and idx.status().files == 6
    bad = {k.path: k.reason for k in s.skipped}
    assert len(bad) == 2 and all("not valid UTF-8" in r for r in bad.values())
    assert {p.rsplit("/", 1)[1] for p in bad} == {"r\ufffdsum\ufffd.txt", "d\ufffdp\ufffdt"}
    assert all(p.encode("utf-8") for p in bad)  # a store, JSON and the page can carry them
    again = idx.update([docs])  # nothing retried, nothing re-embedded
    assert (again.added, again.updated, again.embedded) == ((), (), 0)


def test_the_command_line_indexes_the_rest_and_lists_the_bad_name_in_one_line(tmp_path):
    idx, docs = build(tmp_path)
    write_latin1(docs)
    r = docchat("index", "--index", idx.root, docs, env=clean_env())
    assert r.returncode == 3, r.stderr  # 3: updated, some files skipped (with reasons)
    assert "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("skipped ")]
    assert len(lines) == 1 and "r\ufffdsum\ufffd.txt" in lines[0] and "UTF-8" in lines[0]
    assert idx.status().files == 5


def test_a_mistyped_path_for_a_new_index_creates_nothing(tmp_path):
    r = docchat("index", "--index", tmp_path / "new-index", tmp_path / "no-such-folder",
                env=clean_env())
    assert r.returncode == 1 and "source not found" in r.stderr
    assert not (tmp_path / "new-index").exists()
