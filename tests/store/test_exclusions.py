"""rag/store/exclusions.py: the files a user removed from the index, kept across refreshes."""
from __future__ import annotations

from rag.store import exclusions


def test_an_exclusion_is_kept_resolved_and_undone_by_either_spelling(tmp_path):
    root = tmp_path / "index"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("x")
    assert exclusions.read(root) == frozenset()  # no index folder yet: nothing excluded
    exclusions.add(root, str(docs / ".." / "docs" / "a.md"))
    assert exclusions.read(root) == {str((docs / "a.md").resolve())}
    exclusions.add(root, str(docs / "a.md"))  # twice: still one line
    assert (root / exclusions.FILE).read_text().count("\n") == 1
    assert exclusions.remove(root, str(docs / "a.md")) is True
    assert exclusions.read(root) == frozenset()


def test_removing_what_is_not_excluded_writes_nothing(tmp_path):
    root = tmp_path / "index"
    assert exclusions.remove(root, "/nowhere/b.md") is False
    assert not root.exists()


def test_a_rewrite_leaves_no_temporary_file_and_keeps_the_others(tmp_path):
    root = tmp_path / "index"
    for name in ("c.md", "a.md", "b.md"):
        exclusions.add(root, str(tmp_path / name))
    exclusions.remove(root, str(tmp_path / "b.md"))
    assert (root / exclusions.FILE).read_text().splitlines() == \
        [str(tmp_path / "a.md"), str(tmp_path / "c.md")]  # sorted, one a line
    assert [p.name for p in root.iterdir()] == [exclusions.FILE]
