"""The page's layout: every component, panel by panel, in the order the page shows them
(and Gradio numbers them). Each panel's function returns its components; ui/app.py wires
them to the handlers. No handler here."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag import ENGINES, SUPPORTED  # noqa: E402
from ui import page_conversation  # noqa: E402
from ui.library_text import skipped_md, status_md  # noqa: E402
from ui.render_sources import sources_html  # noqa: E402
from ui.service import Service  # noqa: E402

#: Minimum width of the Ask and Stop buttons beside the question box.
BUTTON_MIN_PX = 70


@dataclass(frozen=True)
class ConversationsColumn:
    new_btn: gr.Button
    conv_list: gr.Radio
    conv_title: gr.Textbox
    rename_btn: gr.Button
    conv_del: gr.Button
    conv_confirm_row: gr.Row
    conv_confirm: gr.Button
    conv_cancel: gr.Button
    downloads: tuple  # page_conversation.download_buttons()


@dataclass(frozen=True)
class ChatColumn:
    chat: gr.Chatbot
    question: gr.Textbox
    ask_btn: gr.Button
    stop_btn: gr.Button
    example_btns: list  # of gr.Button, filled with example questions when the page loads
    scope: gr.Dropdown
    regen_btn: gr.Button
    feedback: tuple  # page_conversation.feedback_panel()


@dataclass(frozen=True)
class DocumentsPanel:
    upload: gr.File
    full: gr.Checkbox
    refresh_btn: gr.Button
    index_log: gr.Markdown


@dataclass(frozen=True)
class LibraryPanel:
    lib_filter: gr.Textbox
    lib_table: gr.HTML
    lib_pick: gr.Dropdown
    lib_reindex: gr.Button
    lib_include: gr.Button
    lib_delete: gr.Button
    lib_summarise: gr.Button
    confirm_row: gr.Row
    lib_confirm: gr.Button
    lib_cancel: gr.Button
    lib_note: gr.Markdown
    confirm_for: gr.State  # the document id the shown confirmation is about ("" when none)


@dataclass(frozen=True)
class SettingsPanel:
    engine: gr.Radio
    top_k: gr.Slider
    base_url: gr.Textbox
    model: gr.Textbox


@dataclass(frozen=True)
class Layout:
    """The whole page: the status line, the page's state, and each panel."""
    status: gr.Markdown
    msgs: gr.State  # the chat's messages
    history: gr.State  # (question, answer) pairs: the follow-ups' context
    answers: gr.State  # the conversation's Answers (every turn, shown or not)
    conv: gr.State  # the open conversation's id (None: not stored yet)
    last_conv: gr.BrowserState  # the conversation this browser had open
    conversations: ConversationsColumn
    chat: ChatColumn
    sources: gr.HTML
    documents: DocumentsPanel
    library: LibraryPanel
    settings: SettingsPanel

    def cleared(self) -> list:
        """What a conversation switch (open, new, delete) sets: its question box is at
        CLEARED_QUESTION (ui/page_conversations.py)."""
        return [self.msgs, self.chat.chat, self.history, self.answers, self.sources,
                self.chat.question, self.conv]

    def lib_actions(self) -> list:
        """The chosen document's actions, in the order Library.actions updates them."""
        return [self.library.lib_reindex, self.library.lib_delete, self.library.lib_include]

    def lib_out(self) -> list:
        """What Library.library updates: the table, the choice, its actions, the scope."""
        return [self.library.lib_table, self.library.lib_pick, *self.lib_actions(),
                self.chat.scope]


def layout(service: Service) -> Layout:
    """The page's components, made inside its gr.Blocks."""
    s = service.settings
    gr.Markdown("## docchat: ask your documents, check every citation\n"
                "HTTP API: [/docs](/docs)", elem_id="header")
    status = gr.Markdown(status_md(service.status(), service.docs), elem_id="status")
    msgs, history, answers = gr.State([]), gr.State([]), gr.State([])
    conv = gr.State(None)  # the open conversation's id (None: not stored yet)
    last_conv = gr.BrowserState("", storage_key="docchat-conversation",
                                secret=hashlib.sha256(str(s.data_path).encode()).hexdigest())
    with gr.Row():
        conversations = conversations_column()
        chat = chat_column()
        with gr.Column(scale=2):
            sources = gr.HTML(sources_html(None), elem_id="sources")
    documents = documents_panel(service)
    library = library_panel()
    settings = settings_panel(s)
    return Layout(status, msgs, history, answers, conv, last_conv, conversations, chat, sources,
                  documents, library, settings)


def conversations_column() -> ConversationsColumn:
    with gr.Column(scale=1, min_width=200, elem_id="conversations"):
        new_btn = gr.Button("New conversation", elem_id="new-chat", size="sm",
                            variant="primary")
        conv_list = gr.Radio(choices=[], label="Conversations", elem_id="conv-list")
        # enabled while a stored conversation is open (see conv.change in ui/app.py)
        conv_title = gr.Textbox(label="Title", elem_id="conv-title", max_lines=1,
                                interactive=False)
        with gr.Row(elem_id="conv-actions"):
            rename_btn = gr.Button("Rename", elem_id="conv-rename", size="sm",
                                   interactive=False)
            conv_del = gr.Button("Delete…", elem_id="conv-delete", size="sm",
                                 variant="stop", interactive=False)
        # shown in the place of Rename and Delete (CSS hides them meanwhile), so it is on
        # the screen wherever the Delete button was
        with gr.Row(visible=False, elem_id="conv-confirm-row") as conv_confirm_row:
            conv_confirm = gr.Button("Yes, delete it", elem_id="conv-confirm",
                                     size="sm", variant="stop")
            conv_cancel = gr.Button("Cancel", elem_id="conv-cancel", size="sm")
        # enabled while a stored conversation is open (page_conversation.wire)
        downloads = page_conversation.download_buttons()
    return ConversationsColumn(new_btn, conv_list, conv_title, rename_btn, conv_del,
                               conv_confirm_row, conv_confirm, conv_cancel, downloads)


def chat_column() -> ChatColumn:
    with gr.Column(scale=3):
        chat = gr.Chatbot(elem_id="chat", height=520, label="Conversation",
                          feedback_options=("Like", "Dislike"), show_label=False,
                          buttons=["copy", "copy_all"])  # no "share": it posts to HF
        with gr.Row(elem_id="ask-row"):
            question = gr.Textbox(elem_id="question", show_label=False, scale=6,
                                  placeholder="Ask a question about your documents",
                                  autofocus=True,  # no max_length: the browser would
                                  # cut a pasted question silently; too long, it is
                                  # refused in one line and stays here to shorten
                                  interactive=False)  # enabled once the page loaded
            # narrow buttons: the question box gets the width (Gradio's 160 px
            # minimum left it a third of the row)
            ask_btn = gr.Button("Ask", elem_id="ask", variant="primary", scale=1,
                                min_width=BUTTON_MIN_PX)
            stop_btn = gr.Button("Stop", elem_id="stop", variant="stop", scale=1,
                                 min_width=BUTTON_MIN_PX, interactive=False)
        with gr.Row(elem_id="examples"):  # hidden by CSS once the chat has messages
            example_btns = [gr.Button("", visible=False, size="sm",
                                      elem_classes=["dc-example"]) for _ in range(3)]
        scope = gr.Dropdown(label="Search in (empty: all documents)", choices=[],
                            value=[], multiselect=True, elem_id="scope",
                            allow_custom_value=True,  # a document removed meanwhile:
                            # the question then says so, in one line
                            info="Choose documents or folders to limit the next "
                                 "questions to them.")
        regen_btn = gr.Button("Regenerate", elem_id="regenerate", size="sm",
                              interactive=False)  # once there is a question
        feedback = page_conversation.feedback_panel()  # after a thumb down
    return ChatColumn(chat, question, ask_btn, stop_btn, example_btns, scope, regen_btn,
                      feedback)


def documents_panel(service: Service) -> DocumentsPanel:
    with gr.Accordion("Documents", open=True):
        upload = gr.File(label=f"Add documents ({', '.join(SUPPORTED)}; at most "
                         f"{service.settings.upload_max_mb:g} MiB each)",
                         file_count="multiple", file_types=list(SUPPORTED), elem_id="upload")
        with gr.Row():
            full = gr.Checkbox(label="Re-embed everything", value=False, elem_id="full")
            refresh_btn = gr.Button("Refresh index", elem_id="rebuild", size="sm")
        index_log = gr.Markdown(skipped_md(service.status()), elem_id="index-log")
    return DocumentsPanel(upload, full, refresh_btn, index_log)


def library_panel() -> LibraryPanel:
    with gr.Accordion("Library", open=True, elem_id="library-panel"):
        lib_filter = gr.Textbox(label="Filter by name", elem_id="lib-filter")
        lib_table = gr.HTML(elem_id="library")
        with gr.Row():
            lib_pick = gr.Dropdown(label="Document", choices=[], elem_id="lib-pick", scale=4)
            lib_reindex = gr.Button("Re-index", elem_id="lib-reindex", scale=1,
                                    interactive=False)
            lib_include = gr.Button("Include again", elem_id="lib-include", scale=1,
                                    interactive=False)
            lib_delete = gr.Button("Remove from index…", elem_id="lib-delete", scale=1,
                                   variant="stop", interactive=False)
            lib_summarise = gr.Button("Summarise", elem_id="lib-summarise", scale=1,
                                      interactive=False)
        with gr.Row(visible=False, elem_id="lib-confirm-row") as confirm_row:
            lib_confirm = gr.Button("Yes, remove it", elem_id="lib-confirm", variant="stop")
            lib_cancel = gr.Button("Cancel", elem_id="lib-cancel")
        lib_note = gr.Markdown(elem_id="lib-note")
        confirm_for = gr.State("")
    return LibraryPanel(lib_filter, lib_table, lib_pick, lib_reindex, lib_include, lib_delete,
                        lib_summarise, confirm_row, lib_confirm, lib_cancel, lib_note,
                        confirm_for)


def settings_panel(s: Settings) -> SettingsPanel:
    with gr.Accordion("Settings", open=False):
        engine = gr.Radio(list(ENGINES), value=s.engine, label="Answer engine",
                          elem_id="engine")
        # up to DOCCHAT_TOP_K when it is set higher (it may be 100): a first value above
        # the maximum is refused by the slider itself when a question is asked
        top_k = gr.Slider(1, max(20, s.top_k), value=s.top_k, step=1,
                          label="Passages (top-k)")
        base_url = gr.Textbox(s.openai_base_url, label="OpenAI-compatible base URL")
        model = gr.Textbox(s.openai_model, label="Model (empty: the server's first)")
    return SettingsPanel(engine, top_k, base_url, model)
