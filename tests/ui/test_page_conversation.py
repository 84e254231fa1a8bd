"""The page's conversation downloads and answer feedback (ui/page_conversation.py), without a
browser: which stored turn a clicked thumb rates, the files the download buttons serve, and the
handlers ``wire`` adds (called as Gradio would, with a real conversation store in tmp_path):
what the user reads after a thumb up, a thumb down, a thumb taken back, and Save."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from test_conversations import answer

from rag.conversations import Conversations, export_name
from rag.errors import DocchatError
from rag.types import Answer
from ui.page_conversation import (REASON_CHOICES, ExportFiles, download_buttons,
                                  feedback_panel, rated_turn, wire)
from ui.render_chat import answer_html, draft_html, older_html, stopped_html


def test_the_page_rates_the_stored_turn_of_the_answer_that_was_clicked(tmp_path):
    """ui/page_conversation.rated_turn: chat message index -> stored turn, skipping an error
    bubble (not an answer) and refusing a draft or a user message."""
    from types import SimpleNamespace

    from ui.page_conversation import rated_turn
    from ui.render_chat import answer_html, draft_html, error_html

    store = Conversations(tmp_path)
    a1, a2 = answer("One?", "First."), answer("Two?", "Second.")
    conv = store.add("", None, "One?", a1)
    store.add("", conv, "Two?", a2)
    msgs = [{"role": "user", "content": "One?"},
            {"role": "assistant", "content": answer_html(a1, 0)},
            {"role": "user", "content": "Fails?"},
            {"role": "assistant", "content": error_html("engine down")},
            {"role": "user", "content": "Two?"},
            {"role": "assistant", "content": answer_html(a2, 1)},
            {"role": "user", "content": "Three?"},
            {"role": "assistant", "content": draft_html("Thr")}]
    service = SimpleNamespace(conversations=store)
    turn = [rated_turn(service, "", conv, msgs, [a1, a2], i) for i in range(len(msgs))]
    assert turn == [None, 1, None, None, None, 2, None, None]
    assert rated_turn(service, "", None, msgs, [a1, a2], 1) is None  # nothing stored
    assert rated_turn(service, "bob", conv, msgs, [a1, a2], 1) is None  # not bob's


def user_msg(q: str) -> dict:
    return {"role": "user", "content": q}


def bot_msg(a: Answer, turn: int = 0) -> dict:
    return {"role": "assistant", "content": answer_html(a, turn)}


def stored(tmp_path, n: int, user: str = ""):
    """A store holding one conversation of ``n`` answered questions."""
    store = Conversations(tmp_path)
    answers = [answer(f"Q{i}?", f"Fact {i}.") for i in range(1, n + 1)]
    conv = None
    for a in answers:
        conv = store.add(user, conv, a.question, a)
    return SimpleNamespace(conversations=store), conv, answers


def test_a_long_conversation_showing_only_its_latest_turns_rates_the_right_one(tmp_path):
    service, conv, answers = stored(tmp_path, 5)
    shown = [{"role": "assistant", "content": older_html(3)}]  # turns 1-3 folded away
    for a in answers[3:]:
        shown += [user_msg(a.question), bot_msg(a)]
    assert [rated_turn(service, "", conv, shown, answers, i) for i in range(len(shown))] == \
        [None, None, 4, None, 5]


def test_gradios_index_may_come_as_a_pair_and_a_bad_one_rates_nothing(tmp_path):
    service, conv, answers = stored(tmp_path, 1)
    msgs = [user_msg("Q1?"), bot_msg(answers[0])]
    assert rated_turn(service, "", conv, msgs, answers, [1, 0]) == 1
    assert rated_turn(service, "", conv, msgs, answers, (1,)) == 1
    for index in (2, -1, None, "1", [], 1.0):
        assert rated_turn(service, "", conv, msgs, answers, index) is None, index


def test_a_stopped_answer_or_one_the_store_does_not_hold_is_not_rated(tmp_path):
    service, conv, answers = stored(tmp_path, 1)
    msgs = [user_msg("Q1?"), bot_msg(answers[0]), user_msg("Q2?"),
            {"role": "assistant", "content": stopped_html()}]
    assert [rated_turn(service, "", conv, msgs, answers, i) for i in range(4)] == \
        [None, 1, None, None]
    stranger = answer("Q1?", "Not what was stored.")
    assert rated_turn(service, "", conv, msgs[:2], [stranger], 1) is None
    # more answers shown than the page kept: the count cannot be trusted
    assert rated_turn(service, "", conv, msgs[:2] * 2, answers, 3) is None
    service.conversations.delete("", conv)  # deleted in another tab
    assert rated_turn(service, "", conv, msgs, answers, 1) is None


def test_a_turn_found_by_its_content_when_the_count_does_not_match(tmp_path):
    """The page holds fewer answers than the store (the same question answered again after
    a reload): the clicked answer is found by its question and text."""
    service, conv, answers = stored(tmp_path, 3)
    msgs = [user_msg(answers[2].question), bot_msg(answers[2])]
    assert rated_turn(service, "", conv, msgs, [answers[2]], 1) == 3


# --- the download files ----------------------------------------------------------------

def test_the_downloads_are_the_markdown_and_json_exports_named_by_the_title(tmp_path):
    service, conv, answers = stored(tmp_path / "db", 2)
    md, js = ExportFiles().write(service, "", conv)
    c = service.conversations.get("", conv)
    assert md.endswith("/" + export_name(c, "md")) and js.endswith("/" + export_name(c, "json"))
    assert "Q1?" in open(md, encoding="utf-8").read()
    data = json.load(open(js, encoding="utf-8"))
    assert [Answer.from_dict(t["answer"]) for t in data["turns"]] == answers


def test_a_renamed_conversations_older_files_are_removed(tmp_path):
    service, conv, _ = stored(tmp_path / "db", 1)
    files = ExportFiles()
    old_md, old_js = files.write(service, "", conv)
    service.conversations.rename("", conv, "Bridges of Riga")
    md, js = files.write(service, "", conv)
    assert md.endswith("docchat-bridges-of-riga.md")
    folder = files.root / next(p.name for p in files.root.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == [
        "docchat-bridges-of-riga.json", "docchat-bridges-of-riga.md"]  # no .part left


def test_each_users_files_are_kept_apart_and_stay_in_the_export_folder(tmp_path):
    store = Conversations(tmp_path / "db")
    service = SimpleNamespace(conversations=store)
    ann = store.add("ann", None, "Ann?", answer("Ann?", "A."))
    files = ExportFiles()
    for user in ("ann", "bob"):
        store.add(user, None, "Q?", answer("Q?", "x"))
    ann_md, _ = files.write(service, "ann", ann)
    bob_conv = store.list("bob")[0].id
    bob_md, _ = files.write(service, "bob", bob_conv)
    assert ann_md != bob_md and files.root in Path(ann_md).parents
    with pytest.raises(DocchatError):  # not bob's to download
        files.write(service, "bob", ann)


# --- the handlers wire adds ------------------------------------------------------------

class Page:
    """The page's conversation parts, wired to ``service`` for the user "ann"; ``fn(name)``
    is the handler Gradio would call."""

    def __init__(self, service) -> None:
        with gr.Blocks() as self.blocks:
            self.chat = gr.Chatbot()
            self.msgs, self.answers, self.conv = gr.State([]), gr.State([]), gr.State(None)
            renamed = gr.Button("Rename").click(lambda: None)
            self.downloads = download_buttons()
            self.feedback = feedback_panel()
            wire(service, lambda request: "ann", chat=self.chat, msgs=self.msgs,
                 answers=self.answers, conv=self.conv, renamed=renamed,
                 downloads=self.downloads, feedback=self.feedback)

    def fn(self, name: str):
        (found,) = {f.fn for f in self.blocks.fns.values() if f.fn.__name__ == name}
        return found


def like(index: int, liked) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": liked})


@pytest.fixture(scope="module")
def wired():
    """One page for the file (building it is the slow part); each test gives it its store."""
    service = SimpleNamespace(conversations=None)
    return Page(service), service


@pytest.fixture
def page(tmp_path, wired):
    built, service = wired
    store = service.conversations = Conversations(tmp_path / "db")
    answers = [answer("Q1?", "Fact 1."), answer("Q2?", "Fact 2.")]
    conv = None
    for a in answers:
        conv = store.add("ann", conv, a.question, a)
    msgs = [user_msg("Q1?"), bot_msg(answers[0]), user_msg("Q2?"), bot_msg(answers[1], 1)]
    return SimpleNamespace(page=built, store=store,
                           conv=conv, msgs=msgs, answers=answers)


def test_the_download_buttons_start_disabled_and_the_panel_hidden(page):
    md, js = page.page.downloads
    assert (md.label, js.label) == ("Download Markdown", "Download JSON")
    assert not md.interactive and not js.interactive
    panel, reason, note, save, status, target = page.page.feedback
    assert panel.visible is False and target.value is None
    assert [value for _, value in REASON_CHOICES] == ["wrong_source", "should_abstain",
                                                       "missed_answer", "other"]
    assert reason.choices == [(label, value) for label, value in REASON_CHOICES]


def test_a_thumb_up_is_stored_and_thanked(page):
    on_like = page.page.fn("on_like")
    target, panel, _, note, status = on_like(like(3, True), page.msgs, page.answers,
                                             page.conv, None)
    assert target is None and panel["visible"] is False and note == ""
    assert status == "Answer 2 rated up. Thank you."
    turns = page.store.turns("ann", page.conv)
    assert turns[1].feedback.rating == "up" and turns[0].feedback is None


def test_a_thumb_down_opens_the_panel_and_save_stores_why(page):
    on_like, on_save = page.page.fn("on_like"), page.page.fn("on_save")
    target, panel, reason, note, status = on_like(like(1, False), page.msgs, page.answers,
                                                  page.conv, None)
    assert target == (page.conv, 1) and panel["visible"] is True
    assert (reason, note) == (None, "") and "rated down. What was wrong" in status
    assert page.store.turns("ann", page.conv)[0].feedback.rating == "down"
    panel, target, status = on_save((page.conv, 1), "missed_answer", "It is on page 4",
                                    None)
    assert panel["visible"] is False and target is None
    assert status == "Feedback on answer 1 saved. Thank you."
    given = page.store.turns("ann", page.conv)[0].feedback
    assert (given.rating, given.reason, given.note) == ("down", "missed_answer",
                                                        "It is on page 4")


def test_a_note_over_the_limit_is_not_saved_and_says_why_keeping_the_panel(page):
    on_save = page.page.fn("on_save")
    panel, target, status = on_save((page.conv, 1), None, "x" * 2001, None)
    assert panel == gr.skip() and target == gr.skip()  # the note stays, to be shortened
    assert status.startswith("**Not saved:**") and "2000" in status
    assert page.store.turns("ann", page.conv)[0].feedback is None


def test_save_without_a_rated_answer_asks_for_one(page):
    panel, target, status = page.page.fn("on_save")(None, "other", "", None)
    assert panel["visible"] is False and target is None and status == "Rate an answer first."


def test_a_thumb_taken_back_removes_the_rating(page):
    on_like = page.page.fn("on_like")
    on_like(like(3, True), page.msgs, page.answers, page.conv, None)
    status = on_like(like(3, None), page.msgs, page.answers, page.conv, None)[4]
    assert status == "Rating of answer 2 removed."
    assert page.store.turns("ann", page.conv)[1].feedback is None


def test_a_thumb_on_a_question_or_without_a_stored_conversation_is_refused(page):
    on_like = page.page.fn("on_like")
    for index, conv in ((0, page.conv), (1, None)):
        target, panel, reason, note, status = on_like(like(index, True), page.msgs,
                                                      page.answers, conv, None)
        assert status == "Only a finished, stored answer can be rated."
        assert reason == gr.skip() and note == gr.skip() and panel["visible"] is False
    assert all(t.feedback is None for t in page.store.turns("ann", page.conv))


def test_a_conversation_deleted_meanwhile_is_not_saved_with_the_reason_escaped(page):
    on_save = page.page.fn("on_save")
    page.store.delete("ann", page.conv)
    status = on_save((page.conv, 1), "other", "<b>x</b>", None)[2]
    assert status.startswith("**Not saved:**") and "<b>" not in status


def test_the_downloads_follow_the_open_conversation(page):
    exports = page.page.fn("exports")
    md, js = exports(page.conv, None)
    assert md["interactive"] and js["interactive"]
    assert md["value"].endswith(".md") and js["value"].endswith(".json")
    for gone in (None, "", "0" * 32):  # none open, or deleted meanwhile
        md, js = exports(gone, None)
        assert md == js == gr.update(value=None, interactive=False)


def test_leaving_a_conversation_closes_the_panel_and_clears_the_status(page):
    panel, target, status = page.page.fn("left")()
    assert panel["visible"] is False and target is None and status == ""


def test_a_draft_is_never_rated(page):
    msgs = page.msgs + [user_msg("Q3?"), {"role": "assistant", "content": draft_html("Fa")}]
    status = page.page.fn("on_like")(like(5, True), msgs, page.answers, page.conv, None)[4]
    assert status == "Only a finished, stored answer can be rated."
