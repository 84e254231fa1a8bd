"""The page's components (ui/page_layout.py), made inside a gr.Blocks without launching it,
for a stand-in service (settings, status, uploads folder): what the page promises before any
event runs: labels, limits, what starts disabled or hidden, the settings' values, and that a
value the page starts with is one it accepts back."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from rag import ENGINES, SUPPORTED
from rag.settings import Settings
from rag.types import Skipped, Status
from ui.page_conversations import CLEARED_QUESTION
from ui.page_context import THUMBS
from ui.page_layout import BUTTON_MIN_PX, Layout, layout


def stand_in(tmp_path, status=Status(False), **settings):
    return SimpleNamespace(settings=Settings(index_dir=str(tmp_path / "index"), **settings),
                           status=lambda: status, docs=tmp_path / "uploads")


def built(service) -> tuple[gr.Blocks, Layout]:
    with gr.Blocks() as blocks:
        page = layout(service)
    return blocks, page


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    status = Status(True, 3, 40, "/models/all-MiniLM-L6-v2", 384, "2026-01-01T10:00:00",
                    ("/docs",), (Skipped("/docs/scan.pdf", "no text layer"),))
    return built(stand_in(tmp, status, engine="openai", top_k=7, upload_max_mb=2.5,
                          openai_base_url="http://127.0.0.1:8080/v1", openai_model="qwen"))


def test_every_component_with_an_id_has_its_own(page):
    """The page's CSS, scripts and browser tests find components by elem_id."""
    blocks, _ = page
    ids = [b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for needed in ("chat", "question", "ask", "stop", "regenerate", "scope", "upload",
                   "library", "lib-pick", "conv-list", "sources", "status", "engine"):
        assert needed in ids


def test_the_question_box_waits_for_the_page_and_never_cuts_a_pasted_question(page):
    q = page[1].chat.question
    assert q.interactive is False  # enabled once the page has loaded (Conversations.on_load)
    assert q.max_length is None  # too long is refused in one line, the text kept to shorten
    assert q.placeholder == "Ask a question about your documents" and q.autofocus


def test_ask_stop_regenerate_and_examples_start_as_a_fresh_page_needs(page):
    c = page[1].chat
    assert c.ask_btn.value == "Ask" and c.ask_btn.interactive is not False
    assert c.stop_btn.value == "Stop" and c.stop_btn.interactive is False
    assert c.regen_btn.value == "Regenerate" and c.regen_btn.interactive is False
    assert c.ask_btn.min_width == c.stop_btn.min_width == BUTTON_MIN_PX
    assert len(c.example_btns) == 3 and not any(b.visible for b in c.example_btns)


def test_the_chat_offers_the_thumbs_the_store_keeps_and_no_share_button(page):
    chat = page[1].chat.chat
    assert set(chat.feedback_options) == set(THUMBS.values())
    assert "share" not in chat.buttons and "copy" in chat.buttons  # sharing posts to HF


def test_the_scope_picker_starts_empty_meaning_every_document(page):
    scope = page[1].chat.scope
    assert scope.multiselect and scope.value == [] and scope.choices == []
    assert "empty: all documents" in scope.label


def test_the_upload_names_every_supported_type_and_this_servers_size_limit(page):
    upload = page[1].documents.upload
    assert "at most 2.5 MiB each" in upload.label
    assert all(suffix in upload.label for suffix in SUPPORTED)
    assert list(upload.file_types) == list(SUPPORTED) and upload.file_count == "multiple"


def test_the_status_line_and_the_skipped_list_show_the_index_at_build_time(page):
    _, ui = page
    assert "3 files" in ui.status.value and "all-MiniLM-L6-v2" in ui.status.value
    assert "scan.pdf" in ui.documents.index_log.value
    assert "no text layer" in ui.documents.index_log.value


def test_without_an_index_the_status_line_says_how_to_make_one(tmp_path):
    _, ui = built(stand_in(tmp_path))
    assert "none yet" in ui.status.value and ui.documents.index_log.value == ""


def test_the_settings_panel_starts_from_this_servers_settings(page):
    s = page[1].settings
    assert [value for _, value in s.engine.choices] == list(ENGINES)
    assert s.engine.value == "openai" and s.top_k.value == 7
    assert s.base_url.value == "http://127.0.0.1:8080/v1" and s.model.value == "qwen"


@pytest.mark.parametrize("top_k", [1, 20, 30, 100])
def test_the_passages_slider_accepts_the_value_it_starts_with(tmp_path, top_k):
    """DOCCHAT_TOP_K may be 1 to 100: the slider's first value must be one the page takes
    back when a question is asked, else every question on the page is refused."""
    _, ui = built(stand_in(tmp_path, top_k=top_k))
    slider = ui.settings.top_k
    assert slider.preprocess(slider.value) == top_k


def test_conversation_actions_wait_for_an_open_conversation(page):
    cv = page[1].conversations
    assert cv.conv_title.interactive is False and cv.conv_title.max_lines == 1
    assert cv.rename_btn.interactive is False and cv.conv_del.interactive is False
    assert cv.conv_confirm_row.visible is False
    assert cv.conv_del.value == "Delete…" and cv.conv_confirm.value == "Yes, delete it"
    md, js = cv.downloads
    assert md.interactive is False and js.interactive is False


def test_library_actions_wait_for_a_chosen_document(page):
    lib = page[1].library
    for button in (lib.lib_reindex, lib.lib_include, lib.lib_delete, lib.lib_summarise):
        assert button.interactive is False
    assert lib.confirm_row.visible is False and lib.confirm_for.value == ""


def test_the_outputs_lists_are_in_the_order_the_handlers_return(page):
    _, ui = page
    cleared = ui.cleared()
    assert cleared[CLEARED_QUESTION] is ui.chat.question
    assert cleared == [ui.msgs, ui.chat.chat, ui.history, ui.answers, ui.sources,
                       ui.chat.question, ui.conv]
    lib = ui.library
    assert ui.lib_actions() == [lib.lib_reindex, lib.lib_delete, lib.lib_include]
    assert ui.lib_out() == [lib.lib_table, lib.lib_pick, *ui.lib_actions(), ui.chat.scope]


def test_the_browsers_remembered_conversation_is_keyed_to_this_install(tmp_path):
    """Two docchat installs served at one address must not reopen each other's ids."""
    _, one = built(stand_in(tmp_path / "a"))
    _, same = built(stand_in(tmp_path / "a"))
    _, other = built(stand_in(tmp_path / "b"))
    assert one.last_conv.storage_key == "docchat-conversation"
    assert one.last_conv.secret == same.last_conv.secret != other.last_conv.secret
