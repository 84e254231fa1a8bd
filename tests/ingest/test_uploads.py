"""Uploaded file names and sizes: nothing leaves the documents folder, refusals change nothing."""
from __future__ import annotations

import io

import pytest

from rag.errors import UploadError
from rag.ingest.uploads import MAX_NAME, check_name, check_names, safe_name, save_upload


@pytest.mark.parametrize("given, expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.md", "win.ini.md"),
    ("/abs/path/Report FINAL.PDF", "Report FINAL.pdf"),
    (".hidden.md", "hidden.md"),
    ("a\x00b;rm -rf $HOME.txt", "ab_rm -rf _HOME.txt"),
    ("ｆｕｌｌ ｗｉｄｔｈ.md", "full width.md"),
])
def test_safe_name_keeps_the_last_component_only(given, expected):
    assert safe_name(given) == expected


def test_names_with_nothing_safe_in_them_do_not_collide():
    """Issue 20, item 14: "🐈.md" and "🐕.md" were both saved as "upload.md"."""
    cat, dog = safe_name("🐈.md"), safe_name("🐕.md")
    assert cat != dog and cat.startswith("upload-") and cat.endswith(".md")
    assert safe_name("🐈.md") == cat  # the same name gives the same file name
    assert safe_name("..").startswith("upload-") and safe_name("✂️📎.pdf").endswith(".pdf")
    check_names([cat, dog])  # accepted together


def test_long_names_are_cut_but_keep_their_extension():
    name = safe_name("x" * 500 + ".html")
    assert len(name) == MAX_NAME and name.endswith(".html")


def test_unsupported_type_is_refused_with_415():
    with pytest.raises(UploadError, match="unsupported") as err:
        check_name("setup.exe")
    assert err.value.status == 415


def test_saved_upload_lands_inside_the_folder(tmp_path):
    path = save_upload(io.BytesIO(b"hello"), "../../notes.md", tmp_path / "docs", 100)
    assert path == tmp_path / "docs" / "notes.md" and path.read_bytes() == b"hello"


def test_too_large_upload_is_refused_and_leaves_nothing(tmp_path):
    (tmp_path / "notes.md").write_text("previous version")
    with pytest.raises(UploadError, match="limit") as err:
        save_upload(io.BytesIO(b"x" * 101), "notes.md", tmp_path, 100)
    assert err.value.status == 413
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]
    assert (tmp_path / "notes.md").read_text() == "previous version"


def test_empty_upload_is_refused(tmp_path):
    with pytest.raises(UploadError, match="empty"):
        save_upload(io.BytesIO(b""), "empty.txt", tmp_path, 100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("names", [["same.txt", "same.txt"], ["dup?name.txt", "dup_name.txt"],
                                   ["Report.md", "report.md"]])
def test_two_uploads_saved_under_one_name_are_refused_naming_both(names):
    with pytest.raises(UploadError) as e:
        check_names(names)
    assert e.value.status == 400
    assert all(repr(n) in str(e.value) for n in names)


def test_distinct_names_pass_and_keep_their_order():
    assert check_names(["b.txt", "a?b.md"]) == ["b.txt", "a_b.md"]
