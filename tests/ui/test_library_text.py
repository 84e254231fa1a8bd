"""The page's index and library lines (ui/library_text.py): the index status, the upload and
refresh log, the re-index note and the library's pickers; every file name and reason is
escaped, so a document's name cannot put markup or Markdown on the page."""
from __future__ import annotations

from pathlib import Path

from rag.types import Document, DocumentStatus, Skipped, Status, UpdateSummary
from ui.library_text import (library_choices, reindex_note, scope_choices, skipped_md, status_md,
                             summary_md)

EVIL = "<img src=x onerror=alert(1)>*bold*.md"


def doc(path: str, status=DocumentStatus.INDEXED, reason: str = "") -> Document:
    return Document(id="id-" + path, path=path, name=Path(path).name, type="pdf", pages=3,
                    chunks=7, status=status, reason=reason)


def test_the_status_line_says_files_chunks_model_and_when_in_utc():
    st = Status(exists=True, files=12, chunks=480, model="/models/all-MiniLM-L6-v2",
                built_at="2026-11-26T00:21:15.123+00:00")
    line = status_md(st, Path("/srv/docchat/data/uploads"))
    assert line == ("**Index:** 12 files · 480 chunks · model `all-MiniLM-L6-v2` · updated "
                    "2026-11-26 00:21:15 UTC · uploads go to `/srv/docchat/data/uploads`")
    one = status_md(Status(exists=True, files=1, chunks=3, model="m", built_at="2026-01-02T03:04:05",
                           skipped=(Skipped("/d/a.pdf", "empty"), Skipped("/d/b.pdf", "empty"))),
                    Path("/u"))
    assert "**Index:** 1 file ·" in one and "· 2 skipped (listed below) ·" in one
    assert "none yet" in status_md(Status(exists=False), Path("/u"))


def test_skipped_files_are_listed_one_a_line_with_names_and_reasons_escaped():
    st = Status(exists=True, skipped=(Skipped(f"/docs/{EVIL}", "corrupt PDF: <b>bad</b> xref"),
                                      Skipped("/docs/scan.pdf", "no text layer")))
    lines = skipped_md(st).split("\n")
    assert len(lines) == 2 and lines[1] == "- Skipped **scan.pdf**: no text layer"
    assert "<" not in lines[0] and "*bold*" not in lines[0]
    assert "&#60;b&#62;bad&#60;/b&#62;" in lines[0]
    assert skipped_md(Status(exists=True)) == ""


def test_after_an_upload_the_log_names_what_was_indexed_and_only_the_uploads_problems():
    summary = UpdateSummary(added=("/u/notes.md", "/u/bad.pdf"), unchanged=("/old/a.md",),
                            skipped=(Skipped("/u/bad.pdf", "encrypted PDF"),
                                     Skipped("/old/broken.docx", "corrupt DOCX")),
                            chunks=120, embedded=9, seconds=1.3)
    log = summary_md(summary, ["/u/notes.md", "/u/bad.pdf"]).split("\n")
    assert log[0] == "Saved and indexed: notes.md."
    assert log[1] == ("- ⚠ **bad.pdf** not indexed: encrypted PDF (remove it under *Library*)")
    assert log[2] == ("Index updated in 1.3 s: 2 added, 0 updated, 0 removed, 1 unchanged; "
                      "9 chunks embedded, 120 in all.")
    assert len(log) == 3  # the folder's older problem is not listed again


def test_a_refresh_log_lists_every_skipped_file_and_why_it_rebuilt_everything():
    summary = UpdateSummary(updated=("/d/a.md",), skipped=(Skipped("/d/b.pdf", "empty"),),
                            full_rebuild=True, reason="model changed: 'a' -> 'b'", chunks=4)
    log = summary_md(summary).split("\n")
    assert log[1] == "Full rebuild: model changed: &#39;a&#39; -&#62; &#39;b&#39;."
    assert log[2] == "- Skipped **b.pdf**: empty"
    assert not any(line.startswith("Saved") for line in log)


def test_an_upload_is_not_blamed_for_a_skipped_file_of_the_same_name_elsewhere():
    """Uploads are matched to skipped files by the path they were saved at, not by name."""
    summary = UpdateSummary(added=("/srv/data/uploads/report.pdf",),
                            skipped=(Skipped("/home/ada/papers/report.pdf", "corrupt PDF"),))
    log = summary_md(summary, ["/srv/data/uploads/report.pdf"])
    assert log.startswith("Saved and indexed: report.pdf."), log
    assert "not indexed" not in log


def test_an_upload_saved_through_a_linked_folder_is_matched_at_its_real_path(tmp_path):
    """The index names files under the resolved folder; the uploads folder may be a link."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    bad = str(tmp_path / "real" / "bad.pdf")
    log = summary_md(UpdateSummary(skipped=(Skipped(bad, "encrypted PDF"),)),
                     [tmp_path / "link" / "bad.pdf"])
    assert log.startswith("- ⚠ **bad.pdf** not indexed: encrypted PDF"), log


def test_uploaded_names_are_escaped_in_the_log():
    log = summary_md(UpdateSummary(added=(f"/u/{EVIL}",)), [f"/u/{EVIL}"])
    assert "<img" not in log and "*bold*" not in log and "&#60;img" in log


def test_the_reindex_note_says_what_a_second_read_did():
    changed = UpdateSummary(embedded=5, seconds=0.5)
    assert reindex_note(doc("/d/a.pdf"), True, changed) == (
        "Re-indexed **a.pdf**: its content had changed; 5 chunks embedded (0.5 s).")
    assert "unchanged, so nothing was re-embedded" in reindex_note(doc("/d/a.pdf"), False,
                                                                   UpdateSummary())
    still = reindex_note(doc("/d/b.pdf", DocumentStatus.SKIPPED, "no text <layer>"), True,
                         UpdateSummary())
    assert still == "Read **b.pdf** again: still not indexed: no text &#60;layer&#62;"
    assert "removed from the index" in reindex_note(None, True, UpdateSummary())


def test_library_choices_show_status_and_filter_by_name_ignoring_case():
    docs = [doc("/d/Harbour Survey.pdf"), doc("/d/scan.pdf", DocumentStatus.SKIPPED)]
    assert library_choices(docs) == [("Harbour Survey.pdf (indexed)", "id-/d/Harbour Survey.pdf"),
                                     ("scan.pdf (skipped)", "id-/d/scan.pdf")]
    assert [c for c, _ in library_choices(docs, "HARBOUR")] == ["Harbour Survey.pdf (indexed)"]
    assert library_choices(docs, "nothing") == []


def test_the_search_in_picker_groups_folders_then_lists_indexed_documents(tmp_path):
    tmp_path = tmp_path.resolve()  # document paths are real paths
    papers, uploads, papers2 = tmp_path / "papers", tmp_path / "uploads", tmp_path / "papers2"
    for folder in (papers, uploads, papers2):
        folder.mkdir()
    docs = [doc(str(papers / "a.pdf")), doc(str(papers / "sub" / "b.pdf")),
            doc(str(papers2 / "a.pdf")), doc(str(papers / "c.pdf"), DocumentStatus.SKIPPED)]
    link = tmp_path / "link-to-papers"
    link.symlink_to(papers)
    choices = scope_choices(docs, [str(link) + "/", str(uploads), str(papers2)])
    assert choices == [
        ("Folder papers (all 2)", str(papers)),  # "papers2/a.pdf" is not in "papers"
        ("Folder papers2 (all 1)", str(papers2)),  # the empty uploads folder is left out
        (f"a.pdf ({papers / 'a.pdf'})", f"id-{papers / 'a.pdf'}"),  # two named a.pdf
        ("b.pdf", f"id-{papers / 'sub' / 'b.pdf'}"),
        (f"a.pdf ({papers2 / 'a.pdf'})", f"id-{papers2 / 'a.pdf'}"),
    ]
