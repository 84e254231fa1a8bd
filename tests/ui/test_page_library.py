"""The library panel's pick handlers (ui/page_library.py's Library) against a stub of the
service: no index, no server."""
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
