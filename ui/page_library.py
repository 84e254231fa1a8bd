"""The Documents and Library panels' handlers: upload, refresh the index, and the chosen
document's actions (Re-index, Include again, Remove… with its confirmation); ``library``
is the table, the document choice and the scope picker as they are now. Wired to the page
in ui/app.py."""
from __future__ import annotations

from pathlib import Path

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag.errors import DocchatError  # noqa: E402
from rag.types import DocumentStatus  # noqa: E402
from ui.escape import text_html  # noqa: E402
from ui.library_text import (library_choices, reindex_note, scope_choices,  # noqa: E402
                             status_md, summary_md)
from ui.page_context import Page, progress_cb  # noqa: E402
from ui.render_library import library_html  # noqa: E402


class Library:
    """The handlers; ``library``, ``actions`` and ``summarisable`` also serve other panels."""

    def __init__(self, page: Page) -> None:
        self.service = page.service

    def library(self, name_filter: str = "", keep: str | None = None):
        """The library table, the document choice (``keep`` stays chosen if it is still
        listed, else none) and the actions that choice allows."""
        service = self.service
        docs = service.documents()
        keep = keep if any(d.id == keep for d in docs) else None
        return (library_html(docs, name_filter or ""),
                gr.update(choices=library_choices(docs, name_filter or ""), value=keep),
                *self.actions(keep),
                gr.update(choices=scope_choices(docs, service.scope_folders())))

    def on_upload(self, paths, name_filter, progress=gr.Progress()):
        if not paths:
            return gr.skip(), gr.skip(), None, gr.skip(), gr.skip()
        service = self.service
        handles = [open(p, "rb") for p in paths]
        try:
            saved, summary = service.add_files(
                ((Path(p).name, fh) for p, fh in zip(paths, handles)), progress_cb(progress))
            log_text = summary_md(summary, [service.docs / name for name in saved])
        except DocchatError as exc:
            log_text = f"**Upload refused:** {text_html(str(exc))}"
        finally:
            for fh in handles:
                fh.close()
        return (log_text, status_md(service.status(), service.docs), None,
                *self.library(name_filter))

    def on_refresh(self, full, name_filter, progress=gr.Progress()):
        service = self.service
        try:
            log_text = summary_md(service.refresh(bool(full), progress_cb(progress)))
        except DocchatError as exc:
            log_text = f"**Index update failed:** {text_html(str(exc))}"
        return (log_text, status_md(service.status(), service.docs), *self.library(name_filter))

    def on_pick_delete(self, doc_id):
        """The confirmation for ``doc_id``, and which document it is about (``confirm_for``)."""
        if not doc_id:
            return gr.update(visible=False), "", ""
        try:
            doc = self.service.document(doc_id)
        except DocchatError as exc:
            return gr.update(visible=False), text_html(str(exc)), ""
        what = ("The uploaded file is deleted from the documents folder."
                if self.service.in_uploads(doc) else
                "The file stays in its folder and is left out of the index from now on.")
        return gr.update(visible=True), (f"Remove **{text_html(doc.name)}** from the index? "
                                         f"{what}"), doc_id

    def actions(self, doc_id):
        """The library actions the chosen document allows (Re-index, Remove, Include again):
        an excluded one can only be included again; the others re-indexed or removed."""
        try:
            status = self.service.document(doc_id).status if doc_id else ""
        except DocchatError:
            status = ""
        return (gr.update(interactive=status in ("indexed", "skipped")),
                gr.update(interactive=status in ("indexed", "skipped")),
                gr.update(interactive=status == DocumentStatus.EXCLUDED))

    def summarisable(self, doc_id) -> bool:
        try:
            return bool(doc_id) and self.service.document(doc_id).status == DocumentStatus.INDEXED
        except DocchatError:
            return False

    def on_pick(self, doc_id, confirm_for=""):
        """The actions the picked document allows; a confirmation about another document is
        hidden. One about this very document stays: the pick's event may reach the server
        after the Remove… clicked just after it (two requests, no order between them)."""
        if doc_id and doc_id == confirm_for:
            return (*self.actions(doc_id), gr.skip(), gr.skip(), confirm_for)
        return (*self.actions(doc_id), gr.update(visible=False), "", "")

    def acted(self, note, doc_id, name_filter):
        """After Re-index / Include again: the note, the status line, and the library with
        the same document still chosen."""
        return (note, status_md(self.service.status(), self.service.docs),
                *self.library(name_filter, doc_id))

    def on_reindex(self, doc_id, name_filter, progress=gr.Progress()):
        if not doc_id:
            return (gr.skip(),) * 7  # note, status and the library's 5 outputs
        try:
            doc, changed, summary = self.service.reindex_document(doc_id,
                                                                  progress_cb(progress))
            note = reindex_note(doc, changed, summary)
        except DocchatError as exc:
            note = f"**Not re-indexed:** {text_html(str(exc))}"
        return self.acted(note, doc_id, name_filter)

    def on_include(self, doc_id, name_filter, progress=gr.Progress()):
        if not doc_id:
            return (gr.skip(),) * 7  # note, status and the library's 5 outputs
        try:
            doc, _ = self.service.include_document(doc_id, progress_cb(progress))
            note = (f"**{text_html(doc.name)}** is back in the index." if doc and
                    doc.status == DocumentStatus.INDEXED else
                    f"**{text_html(doc.name)}** is included again but was not indexed: "
                    f"{text_html(doc.reason)}" if doc else
                    "Included again; the file is no longer on disk.")
        except DocchatError as exc:
            note = f"**Not included:** {text_html(str(exc))}"
        return self.acted(note, doc_id, name_filter)

    def on_confirm_delete(self, doc_id, name_filter):
        service = self.service
        try:
            doc, _ = service.delete_document(doc_id)
            note = f"Removed **{text_html(doc.name)}** from the index."
        except DocchatError as exc:
            note = f"**Not removed:** {text_html(str(exc))}"
        return (gr.update(visible=False), note, "", status_md(service.status(), service.docs),
                *self.library(name_filter))
