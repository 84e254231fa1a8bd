"""The chat page: Gradio Blocks and their handlers (served with the API by ui.server).

Thin by design: every handler calls ui.service.Service, which calls rag/ like the CLI does.
The page is built in pieces, one a panel: ui/page_layout.py makes the components;
ui/page_chat.py, ui/page_conversations.py and ui/page_library.py hold the handlers (sharing
ui/page_context.py); build_blocks here wires the one to the other, panel by panel.
"""
from __future__ import annotations

import logging

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from ui import page_conversation  # noqa: E402
from ui.page_chat import (ASK_API_INPUTS, ASK_OUTPUTS, STOP_WAIT_S, SUMMARISE,  # noqa: E402,F401
                          Chat)
from ui.page_context import Page, session_of, user_of  # noqa: E402,F401
from ui.page_conversations import (CLEARED_QUESTION, SHOWN_TURNS, THUMBS,  # noqa: E402,F401
                                   Conversations)
from ui.page_layout import BUTTON_MIN_PX, Layout, layout  # noqa: E402,F401
from ui.page_library import Library  # noqa: E402
from ui.service import Service  # noqa: E402

log = logging.getLogger(__name__)

THEME = gr.themes.Base(font=["ui-sans-serif", "system-ui", "sans-serif"],  # no web fonts:
                       font_mono=["ui-monospace", "monospace"])  # the page works offline


def build_blocks(service: Service) -> gr.Blocks:
    # The events are registered in this order (Gradio numbers them so, and runs the handlers
    # of one trigger in that order); a handler used by several events is one object, so that
    # they share its concurrency limit.
    page = Page(service)
    with gr.Blocks(title="docchat", analytics_enabled=False) as blocks:
        ui = layout(service)
        library = Library(page)
        chat = Chat(page)
        conversations = Conversations(page, library, len(ui.chat.example_btns))
        wire_chat(ui, chat, library)
        wire_conversations(ui, conversations, page)
        wire_library(ui, library)
        blocks.load(conversations.on_load, ui.last_conv,
                    [ui.status, ui.documents.index_log, *ui.lib_out(), *ui.cleared(),
                     ui.conversations.conv_list, ui.last_conv, ui.conversations.conv_title,
                     *ui.chat.example_btns], api_visibility="private")
        gr.api(chat.ask_api, api_name="ask", concurrency_limit=4)
    return blocks


def wire_chat(ui: Layout, chat: Chat, library: Library) -> None:
    """Ask (the box, the button, an example question), Regenerate, Summarise (the library's
    chosen document), and Stop, which cancels any of them."""
    c, settings = ui.chat, ui.settings
    settings_in = [settings.engine, settings.top_k, settings.base_url, settings.model, c.scope]
    outputs = [ui.msgs, c.chat, ui.history, ui.answers, ui.sources, c.question, ui.conv,
               ui.conversations.conv_list, ui.last_conv, c.stop_btn, c.regen_btn]
    assert len(outputs) == ASK_OUTPUTS
    asked_in = [c.question, ui.msgs, ui.history, ui.answers, ui.conv, *settings_in]
    on_ask = chat.on_ask
    asks = [trigger(on_ask, asked_in, outputs, api_visibility="private", concurrency_limit=4)
            for trigger in (c.question.submit, c.ask_btn.click)]
    asks.append(c.regen_btn.click(chat.on_regenerate,
                                  [ui.msgs, ui.history, ui.answers, ui.conv, *settings_in],
                                  outputs, api_visibility="private", concurrency_limit=4))
    for btn in c.example_btns:  # an example question: put it in the box and ask it
        asks.append(btn.click(lambda q: q, btn, c.question, api_visibility="private").then(
            on_ask, asked_in, outputs, api_visibility="private", concurrency_limit=4))
    lib = ui.library
    asks.append(lib.lib_summarise.click(chat.on_summarise,
                                        [lib.lib_pick, ui.msgs, ui.history, ui.answers, ui.conv],
                                        outputs, api_visibility="private", concurrency_limit=2))
    lib.lib_pick.input(lambda d: gr.update(interactive=library.summarisable(d)), lib.lib_pick,
                       lib.lib_summarise, api_visibility="private")
    c.stop_btn.click(chat.on_stopped, ui.msgs, [ui.msgs, c.chat, c.stop_btn, c.regen_btn],
                     cancels=asks, api_visibility="private", concurrency_limit=None)  # it may
    # wait: one page's Stop must not queue behind another's


def wire_conversations(ui: Layout, conversations: Conversations, page: Page) -> None:
    """Open, New (and the chat's trash icon), Rename, Delete… with its confirmation; the
    downloads and the thumbs (page_conversation.wire)."""
    cv, ch = ui.conversations, ui.chat
    # a conversation opened, stored (its first answer), left or deleted: what it allows
    ui.conv.change(lambda c: (gr.update(interactive=bool(c)),) * 4, ui.conv,
                   [cv.conv_title, cv.rename_btn, cv.conv_del, ch.regen_btn],
                   api_visibility="private")
    cleared = ui.cleared()
    assert cleared[CLEARED_QUESTION] is ch.question
    new_outputs = [*cleared, cv.conv_list, ui.last_conv, cv.conv_title]
    cv.new_btn.click(lambda: (*conversations.on_new(), gr.update(value=None), "", ""), None,
                     new_outputs, api_visibility="private")
    ch.chat.clear(lambda: (*conversations.on_new(), gr.update(value=None), "", ""), None,
                  new_outputs, api_visibility="private")  # the chat's trash icon
    cv.conv_list.input(conversations.on_open, cv.conv_list, new_outputs,
                       api_visibility="private").then(
        conversations.scope_of, ui.answers, ch.scope, api_visibility="private")
    cv.new_btn.click(lambda: gr.update(value=[]), None, ch.scope, api_visibility="private")
    forget_pending = page.forget_pending
    cv.new_btn.click(forget_pending, None, None, api_visibility="private")
    ch.chat.clear(forget_pending, None, None, api_visibility="private")
    cv.conv_list.input(forget_pending, None, None, api_visibility="private")
    renamed = cv.rename_btn.click(conversations.on_rename, [ui.conv, cv.conv_title],
                                  cv.conv_list, api_visibility="private")
    page_conversation.wire(page.service, user_of, chat=ch.chat, msgs=ui.msgs,
                           answers=ui.answers, conv=ui.conv, renamed=renamed,
                           downloads=cv.downloads, feedback=ch.feedback)
    cv.conv_del.click(lambda c: gr.update(visible=bool(c)), ui.conv, cv.conv_confirm_row,
                      api_visibility="private")
    cv.conv_cancel.click(lambda: gr.update(visible=False), None, cv.conv_confirm_row,
                         api_visibility="private")
    cv.conv_confirm.click(conversations.on_delete_conv, ui.conv,
                          [*cleared, cv.conv_list, ui.last_conv, cv.conv_confirm_row],
                          api_visibility="private")


def wire_library(ui: Layout, library: Library) -> None:
    """Upload, Refresh index, the name filter, and the chosen document's actions."""
    d, lib = ui.documents, ui.library
    lib_actions, lib_out = ui.lib_actions(), ui.lib_out()  # lib_out: what library() returns
    # the progress bar goes over the log under the drop zone, never over the status line
    d.upload.upload(library.on_upload, [d.upload, lib.lib_filter],
                    [d.index_log, ui.status, d.upload, *lib_out], api_visibility="private",
                    show_progress_on=d.index_log)
    d.refresh_btn.click(library.on_refresh, [d.full, lib.lib_filter],
                        [d.index_log, ui.status, *lib_out], api_visibility="private",
                        show_progress_on=d.index_log)
    lib.lib_filter.change(library.library, lib.lib_filter, lib_out, api_visibility="private")
    # picking a document, Remove… and Cancel run one after the other in the order they
    # were clicked: a pick answered after a quick Remove… hid its confirmation (seen in CI)
    in_order = {"concurrency_id": "library-pick", "concurrency_limit": 1}
    lib.lib_pick.input(library.on_pick, [lib.lib_pick, lib.confirm_for],
                       [*lib_actions, lib.confirm_row, lib.lib_note, lib.confirm_for],
                       api_visibility="private", **in_order)
    acted_out = [lib.lib_note, ui.status, *lib_out]
    lib.lib_reindex.click(library.on_reindex, [lib.lib_pick, lib.lib_filter], acted_out,
                          api_visibility="private", show_progress_on=lib.lib_note)
    lib.lib_include.click(library.on_include, [lib.lib_pick, lib.lib_filter], acted_out,
                          api_visibility="private", show_progress_on=lib.lib_note)
    lib.lib_delete.click(library.on_pick_delete, lib.lib_pick,
                         [lib.confirm_row, lib.lib_note, lib.confirm_for],
                         api_visibility="private", **in_order)
    lib.lib_cancel.click(lambda: (gr.update(visible=False), "", ""), None,
                         [lib.confirm_row, lib.lib_note, lib.confirm_for],
                         api_visibility="private", **in_order)
    lib.lib_confirm.click(library.on_confirm_delete, [lib.lib_pick, lib.lib_filter],
                          [lib.confirm_row, lib.lib_note, lib.confirm_for, ui.status, *lib_out],
                          api_visibility="private")
