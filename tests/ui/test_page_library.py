"""The library panel's pick and upload handlers (ui/page_library.py's Library) against stubs
of the service: no index, no server."""
from __future__ import annotations


class _Docs:
    """Only what Library's pick handlers read of the service (no index needed for them)."""

    def __init__(self):
        from rag.types import Document

        self.doc = Document(id="d1", path="/docs/a.md", name="a.md", type="md")

    def document(self, doc_id):
        from rag.errors import DocchatError

        if doc_id != "d1":
            raise DocchatError("no such document")
        return self.doc

    def in_uploads(self, doc):
        return False


def test_a_pick_arriving_after_remove_keeps_that_documents_confirmation():
    """Picking a document and clicking Remove… at once sends two requests with no order
    between them; a pick of the same document must not hide Remove…'s confirmation
    (it did, under load, in the browser tests), while a pick of another document does."""
    from types import SimpleNamespace

    import gradio as gr

    from ui.page_library import Library

    lib = Library(SimpleNamespace(service=_Docs()))
    row, note, about = lib.on_pick_delete("d1")
    assert row["visible"] is True and "a.md" in note and about == "d1"
    late = lib.on_pick("d1", about)  # the pick of the same document, answered after
    assert late[3] == gr.skip() and late[4] == gr.skip() and late[5] == "d1"
    assert late[1]["interactive"] is True  # Remove… stays possible
    other = lib.on_pick("d2", about)  # another document: the confirmation goes
    assert other[3]["visible"] is False and other[4] == "" and other[5] == ""


class _Uploads:
    """What Library.on_upload reads of the service: the uploads folder ``docs`` (a link to
    the real folder, as the index names it resolved) and an update that skipped a file of
    the uploaded name in another indexed folder."""

    def __init__(self, tmp_path):
        from rag.types import Skipped, Status, UpdateSummary

        (tmp_path / "real").mkdir()
        (tmp_path / "uploads").symlink_to(tmp_path / "real")
        self.docs = tmp_path / "uploads"
        self.summary = UpdateSummary(
            added=(str(tmp_path / "real" / "report.pdf"),),
            skipped=(Skipped(str(tmp_path / "papers" / "report.pdf"), "corrupt PDF"),
                     Skipped(str(tmp_path / "real" / "scan.pdf"), "no text layer")))
        self.status = lambda: Status(exists=False)
        self.documents = lambda: []
        self.scope_folders = lambda: []

    def add_files(self, files, on_progress=None):
        return [name for name, _ in files], self.summary


def test_the_upload_log_blames_an_upload_only_for_its_own_file(tmp_path):
    """A broken report.pdf in another indexed folder is not the uploaded report.pdf's
    problem; the uploaded scan.pdf that was not indexed is."""
    from types import SimpleNamespace

    from ui.page_library import Library

    for name in ("report.pdf", "scan.pdf"):
        (tmp_path / name).write_bytes(b"%PDF-1.4")
    lib = Library(SimpleNamespace(service=_Uploads(tmp_path)))
    log = lib.on_upload([str(tmp_path / "report.pdf"), str(tmp_path / "scan.pdf")], "",
                        progress=lambda *a, **k: None)[0]
    assert log.split("\n")[:2] == [
        "Saved and indexed: report.pdf.",
        "- ⚠ **scan.pdf** not indexed: no text layer (remove it under *Library*)"], log
