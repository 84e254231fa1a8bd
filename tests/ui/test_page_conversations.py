"""The Conversations column's handlers (ui/page_conversations.py) without a browser: open,
new, rename, delete and the page's load, against a real conversation store in tmp_path and a
stand-in for the rest of the service (no index). Outputs are in ui/app.py's order."""
from __future__ import annotations

import unicodedata
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from test_conversations import answer

from rag.conversations import Conversations as Store
from rag.types import Document, Status
from ui.page_context import Page
from ui.page_conversations import CLEARED_QUESTION, SHOWN_TURNS, Conversations
from ui.page_library import Library
from ui.render_chat import answer_html

ANN = SimpleNamespace(username="ann", session_hash="s1")  # a logged-in page request


class Service:
    """The conversation store, two indexed documents, one example question."""

    def __init__(self, tmp_path: Path) -> None:
        self.conversations = Store(tmp_path / "db")
        self.docs = tmp_path / "uploads"
        self.docs_list = [Document("d1", "/docs/a.md", "a.md", "md", 1, 2),
                          Document("d2", "/docs/b.pdf", "b.pdf", "pdf", 3, 9)]
        self.examples = ["How tall is the tower?"]

    def documents(self):
        return self.docs_list

    def scope_folders(self):
        return ["/docs"]

    def status(self):
        return Status(True, 2, 11, "minilm", 384, "2026-01-01T10:00:00")

    def example_questions(self, n):
        return self.examples[:n]


@pytest.fixture
def service(tmp_path):
    return Service(tmp_path)


@pytest.fixture
def column(service):
    page = Page(service)
    return Conversations(page, Library(page), examples=3)


def stored(service, *questions, user="ann"):
    conv = None
    for q in questions:
        conv = service.conversations.add(user, conv, q, answer(q, f"Answer to {q}"))
    return conv


# --- open ----------------------------------------------------------------------------------

def test_opening_a_conversation_shows_its_turns_and_fills_the_page(column, service):
    conv = stored(service, "First <b>question</b>?", "Second?")
    service.conversations.rename("ann", conv, "Tower facts")
    out = column.on_open(conv, ANN)
    msgs, chat, history, answers, sources, box, opened, listing, last, title = out
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2
    assert "<b>" not in msgs[0]["content"] and "question" in msgs[0]["content"]  # as text
    assert chat["value"] == msgs and chat["feedback_value"] == [None, None]
    assert history == [("First <b>question</b>?", "Answer to First <b>question</b>? [1]"),
                       ("Second?", "Answer to Second? [1]")]  # as stored, for follow-ups
    assert [a.question for a in answers] == ["First <b>question</b>?", "Second?"]
    assert box == "" and out[CLEARED_QUESTION] == ""  # the question box is cleared
    assert opened == conv and last == conv
    assert listing["choices"] == [("Tower facts", conv)] and listing["value"] == conv
    assert title["value"] == "Tower facts"


def test_the_thumbs_given_are_shown_again_on_their_answers(column, service):
    conv = stored(service, "One?", "Two?", "Three?")
    service.conversations.rate("ann", conv, 1, "up")
    service.conversations.rate("ann", conv, 3, "down", "other")
    chat = column.on_open(conv, ANN)[1]
    assert chat["feedback_value"] == ["Like", None, "Dislike"]


def test_a_long_conversation_shows_its_latest_turns_but_keeps_them_all(column, service):
    n = SHOWN_TURNS + 2
    conv = stored(service, *[f"Q{i}?" for i in range(1, n + 1)])
    service.conversations.rate("ann", conv, n, "up")
    msgs, chat, history, answers, *_ = column.on_open(conv, ANN)
    assert len(msgs) == 1 + 2 * SHOWN_TURNS
    assert "2" in msgs[0]["content"]  # "2 older questions..." (in the downloads)
    assert msgs[1]["content"] == "Q3?" and msgs[-2]["content"] == f"Q{n}?"
    thumbs = chat["feedback_value"]
    assert len(thumbs) == 1 + SHOWN_TURNS and thumbs[0] is None and thumbs[-1] == "Like"
    assert len(history) == len(answers) == n  # Regenerate and feedback count every turn
    assert msgs[-1]["content"] == answer_html(answers[-1], n - 1)  # numbered as stored


@pytest.mark.parametrize("conv", [None, "", "0" * 32])
def test_nothing_or_an_unknown_conversation_opens_an_empty_chat(column, service, conv):
    mine = stored(service, "Mine?")
    msgs, chat, history, answers, _, box, opened, listing, last, title = column.on_open(conv,
                                                                                       ANN)
    assert msgs == history == answers == [] and chat["feedback_value"] == []
    assert not opened and last == "" and title["value"] == ""
    assert listing["choices"] == [("Mine?", mine)] and not listing["value"]


def test_another_users_conversation_does_not_open(column, service):
    bobs = stored(service, "Bob's secret?", user="bob")
    msgs, *_, opened, listing, last, title = column.on_open(bobs, ANN)
    assert msgs == [] and opened is None and listing["choices"] == []
    assert "secret" not in str(title)


def test_a_login_name_in_another_unicode_form_is_the_same_user(column, service):
    conv = stored(service, "Straße?", user=unicodedata.normalize("NFC", "Zoë"))
    decomposed = SimpleNamespace(username=unicodedata.normalize("NFD", "Zoë"),
                                 session_hash="s2")
    assert column.on_open(conv, decomposed)[6] == conv


# --- new, rename, delete -------------------------------------------------------------------

def test_new_empties_the_chat_and_its_thumbs(column):
    msgs, chat, history, answers, sources, box, conv = column.on_new()
    assert msgs == history == answers == [] and box == "" and conv is None
    assert chat["value"] == [] and chat["feedback_value"] == []
    assert isinstance(sources, str)


def test_rename_changes_the_title_in_the_list(column, service):
    conv = stored(service, "Old?")
    listing = column.on_rename(conv, "  Bridges of Riga ", ANN)
    assert listing["value"] == conv
    assert service.conversations.get("ann", conv).title.strip() == "Bridges of Riga"
    assert [t for t, _ in listing["choices"]] == [service.conversations.get("ann", conv).title]


@pytest.mark.parametrize("title", ["", "   ", None])
def test_a_blank_name_is_refused_with_a_warning_and_the_old_name_kept(column, service, title):
    conv = stored(service, "Keep me?")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        listing = column.on_rename(conv, title, ANN)
    assert any("needs a name" in str(w.message) for w in said)
    assert service.conversations.get("ann", conv).title == "Keep me?"
    assert listing["choices"] == [("Keep me?", conv)]


def test_rename_with_nothing_open_changes_nothing(column, service):
    other = stored(service, "Other?")
    listing = column.on_rename(None, "New name", ANN)
    assert listing["value"] is None and listing["choices"] == [("Other?", other)]


def test_delete_removes_it_and_leaves_an_empty_chat(column, service):
    keep, gone = stored(service, "Keep?"), stored(service, "Delete?")
    out = column.on_delete_conv(gone, ANN)
    assert out[:7] == column.on_new()  # the new-chat outputs first
    msgs, chat, history, answers, _, box, conv, listing, last, confirm = out
    assert msgs == [] and conv is None and last == "" and confirm["visible"] is False
    assert listing["choices"] == [("Keep?", keep)] and listing["value"] is None
    assert [c.id for c in service.conversations.list("ann")] == [keep]


def test_deleting_one_already_gone_or_another_users_is_quiet_and_harmless(column, service):
    bobs = stored(service, "Bob's?", user="bob")
    for conv in ("0" * 32, bobs, None):
        assert column.on_delete_conv(conv, ANN)[7]["choices"] == []
    assert [c.id for c in service.conversations.list("bob")] == [bobs]


# --- the scope picker and the page's load -------------------------------------------------

def test_opening_restores_the_last_answers_scope_as_document_ids(column, service):
    ans = [answer("Q?", "A.")]
    assert column.scope_of([]) == gr.update(value=[])
    assert column.scope_of(ans) == gr.update(value=[])  # searched everything
    scoped = [replace(ans[0], scope=("/docs/b.pdf", "/docs/gone.txt", "/docs/a.md"))]
    assert column.scope_of(scoped)["value"] == ["d2", "d1"]  # a document gone is dropped


def test_the_page_load_shows_the_index_examples_and_the_last_conversation(column, service):
    conv = stored(service, "Where?")
    out = column.on_load(conv, ANN)
    status, skipped, *rest = out
    assert "2 files" in status and "11" in status and skipped == ""
    buttons = out[-3:]
    assert buttons[0] == gr.update(value="How tall is the tower?", visible=True)
    assert buttons[1] == buttons[2] == gr.update(visible=False)
    opened = out[2 + len(column.library.library()):-3]
    assert opened[6] == conv and opened[0][0]["content"] == "Where?"
    # the question box: enabled, not cleared (a question typed while loading is kept)
    assert opened[CLEARED_QUESTION] == gr.update(interactive=True)


def test_the_page_load_without_a_conversation_or_index_is_a_fresh_page(column, service):
    service.status = lambda: Status(False)
    service.examples = []
    out = column.on_load(None, ANN)
    assert "none yet" in out[0]
    assert all(b == gr.update(visible=False) for b in out[-3:])
    opened = out[2 + len(column.library.library()):-3]
    assert opened[0] == [] and opened[6] is None
