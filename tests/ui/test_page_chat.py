"""The chat's handlers (ui/page_chat.py) without a browser: a question streamed into the chat
and stored, an engine's error, "summarise <document>", Regenerate, Stop and the Gradio API
endpoint "ask", driven directly against a real conversation store in tmp_path and a stand-in
for the answering service (no index, no model). run_question's yields are (msgs, history,
answers, sources, question box, conversation id, done)."""
from __future__ import annotations

import threading
import time
import warnings
from types import SimpleNamespace

import gradio as gr
import pytest
from test_conversations import answer

from rag.conversations import FILE, Conversations
from rag.errors import DocchatError
from rag.types import Answer, Document, DocumentStatus, Stage
from ui.page_chat import ASK_OUTPUTS, Chat
from ui.page_context import Page

SKIP = gr.skip()


class Service:
    """What Chat reads of the service: a scripted answer stream, documents, a summary."""

    def __init__(self, tmp_path) -> None:
        self.conversations = Conversations(tmp_path / "db")
        self.model_ready = threading.Event()
        self.model_ready.set()
        self.asked: list[dict] = []
        self.closed = threading.Event()
        self.script: list = ["Fact ", "one.", Stage("Checking the citations…")]
        self.error: DocchatError | None = None
        self.docs = [Document("d1", "/docs/notes.pdf", "notes.pdf", "pdf", 2, 5),
                     Document("d2", "/docs/Report 2024.docx", "Report 2024.docx", "docx"),
                     Document("d3", "/docs/broken.pdf", "broken.pdf", "pdf",
                              status=DocumentStatus.SKIPPED, reason="corrupt")]
        self.summary_error: DocchatError | None = None
        self.summary_pause = 0.0

    def ask(self, question, history, engine, k, documents, **options):
        self.asked.append(dict(question=question, history=history, engine=engine, k=k,
                               documents=documents, **options))

        def stream():
            try:
                yield from self.script
                if self.error:
                    raise self.error
                yield answer(question, "Fact one.")
            finally:
                self.closed.set()
        return stream()

    def documents(self):
        return self.docs

    def document(self, doc_id):
        for d in self.docs:
            if d.id == doc_id:
                return d
        raise DocchatError(f"no document with id {doc_id!r}")

    def summarise(self, documents, on_progress=None):
        on_progress(0.5, "reading the pages")
        time.sleep(self.summary_pause)
        if self.summary_error:
            raise self.summary_error
        return answer(f"Summary of {documents[0]}", "The notes say this.")

    def answer(self, question, history, engine, k):
        self.asked.append(dict(question=question, history=history, engine=engine, k=k))
        return answer(question, "Fact one.")


@pytest.fixture
def service(tmp_path):
    return Service(tmp_path)


@pytest.fixture
def chat(service):
    return Chat(Page(service))


def ask(chat, question="How tall?", msgs=(), history=(), answers=(), conv=None, user="",
        k=5, scope=(), new_id=None) -> list[tuple]:
    """run_question's updates, each with its own copy of the messages (the handler changes
    the last one in place; Page.asked copies it likewise)."""
    return [([dict(m) for m in u[0]], *u[1:])
            for u in chat.run_question(question, list(msgs), list(history), list(answers),
                                       conv, user, "extractive", k, "", "", scope, new_id)]


# --- a question ----------------------------------------------------------------------------

def test_a_question_streams_its_draft_then_the_answer_and_is_stored(chat, service):
    updates = ask(chat, "How <tall>?")
    first, *drafts, last = updates
    msgs, history, answers, sources, box, conv, done = first
    assert msgs[0]["role"] == "user" and "<tall>" not in msgs[0]["content"]  # as text
    assert "Searching the documents" in msgs[1]["content"] and "dc-draft" in msgs[1]["content"]
    assert box == "" and done is False and sources == SKIP
    shown = [u[0][-1]["content"] for u in drafts]
    assert "Fact one." in shown[1] and "Checking the citations" in shown[2]
    msgs, history, answers, sources, box, conv, done = last
    assert done and box == "" and "dc-answer" in msgs[-1]["content"]
    assert history == [("How <tall>?", "Fact one. [1]")] and len(answers) == 1
    assert "a.pdf" in sources  # the Sources panel lists the answer's source
    [turn] = service.conversations.turns("", conv)
    assert turn.question == "How <tall>?" and turn.answer == answers[0]


def test_before_the_model_is_loaded_the_first_draft_says_so(chat, service):
    service.model_ready.clear()
    assert "Loading the model" in ask(chat)[0][0][-1]["content"]


def test_the_question_goes_to_the_service_with_its_history_k_and_scope(chat, service):
    ask(chat, "And then?", history=[("How tall?", "31 m.")], k="7", scope=("d1", "d2"))
    ask(chat, "Again?")
    first, second = service.asked
    assert first["history"] == [("How tall?", "31 m.")] and first["k"] == 7
    assert first["documents"] == ["d1", "d2"] and second["documents"] is None
    assert first["openai_base_url"] == "" and first["engine"] == "extractive"


def test_a_first_question_starts_the_conversation_under_the_id_given(chat, service):
    conv = ask(chat, new_id="a" * 32)[-1][5]
    assert conv == "a" * 32 and service.conversations.count("", conv) == 1
    again = ask(chat, "Next?", conv=conv, history=[("How tall?", "x")])[-1][5]
    assert again == conv and service.conversations.count("", conv) == 2


def test_a_conversation_deleted_meanwhile_gets_a_new_one_and_the_answer_is_kept(chat,
                                                                                service):
    conv = ask(chat)[-1][5]
    service.conversations.delete("", conv)
    new = ask(chat, "Next?", conv=conv)[-1][5]
    assert new and new != conv and service.conversations.count("", new) == 1


def test_an_engine_error_shows_in_the_chat_and_keeps_the_question(chat, service):
    service.error = DocchatError("the OpenAI server at http://x <b> is not reachable")
    *_, last = ask(chat, "Why?")
    msgs, history, answers, sources, box, conv, done = last
    assert done and box == "Why?" and history == [] and answers == [] and conv is None
    assert "dc-error" in msgs[-1]["content"] and "<b>" not in msgs[-1]["content"]
    assert service.closed.is_set()
    assert service.conversations.list("") == []  # nothing stored


def test_closing_the_chat_mid_answer_ends_the_engines_stream(chat, service):
    """Stop (or a closed page) closes the handler's generator: the engine's generation must
    end too, not go on in the background."""
    run = chat.run_question("Q?", [], [], [], None, "", None, 5, "", "")
    next(run), next(run)  # the first draft piece is shown
    run.close()
    assert service.closed.is_set()
    assert service.conversations.list("") == []


# --- on_ask: the box, the button and the examples ------------------------------------------

REQUEST = SimpleNamespace(username="", session_hash="page-1")


def on_ask(chat, question, msgs=(), conv=None, scope=None) -> list[tuple]:
    return list(chat.on_ask(question, list(msgs), [], [], conv, "extractive", 5, "", "",
                            scope, REQUEST))


@pytest.mark.parametrize("question", ["", "   \n", None])
def test_a_blank_question_changes_nothing(chat, service, question):
    assert on_ask(chat, question) == [(SKIP,) * ASK_OUTPUTS]
    assert service.asked == []


def test_asking_on_the_page_trims_the_question_and_ends_with_stop_off_regenerate_on(chat,
                                                                                    service):
    updates = on_ask(chat, "  How tall?  ")
    assert service.asked[0]["question"] == "How tall?"
    assert all(len(u) == ASK_OUTPUTS for u in updates)
    stop, regenerate = updates[-1][9], updates[-1][10]
    assert stop["interactive"] is False and regenerate["interactive"] is True
    conv = updates[-1][6]
    assert conv and updates[-1][8] == conv  # the page remembers it (localStorage)
    assert updates[-1][7]["choices"] == [("How tall?", conv)]


@pytest.mark.parametrize("question, doc_id", [
    ("summarise notes.pdf", "d1"), ("Summarize: notes", "d1"), ("SUMMARISE the notes.PDF", "d1"),
    ("summarise the document 'Report 2024'", "d2"), ("summarize “report 2024.docx”", "d2"),
    ("summarise broken.pdf", None),  # skipped: nothing to summarise, an ordinary question
    ("summarise nothing.pdf", None), ("summarise", None),
    ("Can you summarise notes.pdf?", None), ("summarisenotes.pdf", None)])
def test_summarise_followed_by_a_documents_name_asks_for_its_summary(chat, question, doc_id):
    assert chat.summary_request(question) == doc_id


def test_a_summary_asked_in_the_box_is_a_cited_turn_and_clears_the_box(chat, service):
    service.summary_pause = 0.6  # long enough for a progress update to be shown
    updates = on_ask(chat, "summarise notes.pdf")
    assert service.asked == []  # not a question for the engine
    assert any("Reading the pages" in u[0][-1]["content"] for u in updates)  # progress shown
    msgs, box, conv = updates[-1][0], updates[-1][5], updates[-1][6]
    assert msgs[-2]["content"] == "summarise notes.pdf" and "dc-answer" in msgs[-1]["content"]
    assert box == ""
    [turn] = service.conversations.turns("", conv)
    assert turn.question == "summarise notes.pdf"


# --- the library's Summarise button --------------------------------------------------------

def summarise(chat, doc_id) -> list[tuple]:
    return list(chat.run_summary(doc_id, [], [], [], None, ""))


def test_the_summary_button_names_the_document_and_leaves_the_box_alone(chat, service):
    updates = summarise(chat, "d1")
    assert all(u[4] == SKIP for u in updates)  # a question being typed is kept
    msgs, history, answers, sources, _, conv, done = updates[-1]
    assert done and msgs[0]["content"] == "Summarise notes.pdf"
    assert history == [("Summary of d1", "The notes say this. [1]")]
    assert service.conversations.turns("", conv)[0].question == "Summarise notes.pdf"


@pytest.mark.parametrize("doc_id", ["gone", "", None])
def test_summarising_a_document_that_is_gone_warns_and_changes_nothing(chat, doc_id):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        [(msgs, history, answers, sources, box, conv, done)] = summarise(chat, doc_id)
    assert msgs == [] and done and box == SKIP and conv is None
    assert any("no document" in str(w.message) for w in said)


def test_a_failed_summary_shows_the_error_and_stores_nothing(chat, service):
    service.summary_error = DocchatError("notes.pdf has no text")
    msgs, history, answers, _, box, conv, done = summarise(chat, "d1")[-1]
    assert done and "dc-error" in msgs[-1]["content"] and "no text" in msgs[-1]["content"]
    assert history == answers == [] and conv is None and box == SKIP


# --- Regenerate --------------------------------------------------------------------------------

def test_regenerate_replaces_the_last_answer_in_the_chat_and_the_store(chat, service):
    first = ask(chat, "One & <two>?")[-1]
    msgs, history, answers, _, _, conv, _ = first
    service.conversations.rate("", conv, 1, "up")
    updates = list(chat.on_regenerate(msgs, history, answers, conv, "extractive", 5, "", "",
                                      None, REQUEST))
    assert service.asked[-1]["question"] == "One & <two>?"  # unescaped from the chat
    assert service.asked[-1]["history"] == []  # the replaced answer is not its own history
    assert updates[0][1]["feedback_value"] == [None]  # the old thumb does not stay
    msgs, chat_update, history, answers = updates[-1][:4]
    assert [m["role"] for m in msgs] == ["user", "assistant"] and len(answers) == 1
    [turn] = service.conversations.turns("", conv)
    assert turn.feedback is None  # the new answer starts unrated


def test_regenerate_after_an_error_asks_again_without_dropping_an_answer(chat, service):
    msgs, history, answers, _, _, conv, _ = ask(chat, "One?")[-1]
    service.error = DocchatError("engine down")
    msgs = ask(chat, "Two?", msgs=msgs, history=history, answers=answers, conv=conv)[-1][0]
    service.error = None
    updates = list(chat.on_regenerate(msgs, history, answers, conv, "extractive", 5, "", "",
                                      None, REQUEST))
    assert service.asked[-1]["question"] == "Two?"
    assert service.asked[-1]["history"] == history  # "One?" and its answer kept
    assert [t.question for t in service.conversations.turns("", conv)] == ["One?", "Two?"]
    assert len(updates[-1][3]) == 2


def test_regenerate_asks_a_question_holding_entities_exactly_as_it_was_typed(chat, service):
    typed = "Is &lt; the same as &#60; or \\u003c?"
    msgs, history, answers, _, _, conv, _ = ask(chat, typed)[-1]
    list(chat.on_regenerate(msgs, history, answers, conv, "extractive", 5, "", "", None,
                            REQUEST))
    assert service.asked[-1]["question"] == typed


@pytest.mark.parametrize("how", ["typed", "button"])
def test_regenerate_after_a_summary_makes_the_summary_again_in_its_place(chat, service, how):
    if how == "typed":
        updates = on_ask(chat, "summarise notes.pdf")
    else:
        updates = list(chat.on_summarise("d1", [], [], [], None, REQUEST))
    msgs, _, history, answers, _, _, conv = updates[-1][:7]
    asked_for = service.conversations.turns("", conv)[0].question
    updates = list(chat.on_regenerate(msgs, history, answers, conv, "extractive", 5, "", "",
                                      None, REQUEST))
    assert service.asked == []  # not put to the engine as a question
    msgs, _, history, answers = updates[-1][:4]
    assert [a.question for a in answers] == ["Summary of d1"]  # a summary again
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert "dc-answer" in msgs[-1]["content"]
    assert [t.question for t in service.conversations.turns("", conv)] == [asked_for]


def test_regenerate_with_nothing_asked_changes_nothing(chat, service):
    assert list(chat.on_regenerate([], [], [], None, "extractive", 5, "", "", None,
                                   REQUEST)) == [(SKIP,) * ASK_OUTPUTS]
    assert service.asked == []


def test_regenerate_keeps_each_stored_rating_on_its_own_answer(tmp_path):
    """Regenerate rebuilds the chat's thumbs from the stored ratings (ui/page_chat.py
    thumbs_before): an error bubble or the "older turns" line has no turn, so a rating must
    not slide onto it; a conversation deleted meanwhile gives no thumbs, not an error."""
    from types import SimpleNamespace

    from ui.escape import text_html
    from ui.page_chat import Chat
    from ui.render_chat import answer_html, error_html, older_html

    store = Conversations(tmp_path / FILE)
    a1 = answer("How many died?", "145 people died.")
    a3 = answer("Who attacked?", "Gunmen attacked.")
    conv = store.add("", None, a1.question, a1)
    store.add("", conv, a3.question, a3)
    store.rate("", conv, 1, "up")
    store.drop_last("", conv)  # Regenerate of the last question drops its turn first
    chat = Chat(SimpleNamespace(service=SimpleNamespace(conversations=store)))
    user = lambda q: {"role": "user", "content": text_html(q)}  # noqa: E731
    msgs = [user(a1.question), {"role": "assistant", "content": answer_html(a1, 0)},
            user("What broke?"), {"role": "assistant", "content": error_html("engine down")}]
    assert chat.thumbs_before(msgs, "", conv) == ["Like", None, None]
    older = [{"role": "assistant", "content": older_html(40)}] + msgs
    assert chat.thumbs_before(older, "", conv) == [None, "Like", None, None]
    store.delete("", conv)
    assert chat.thumbs_before(msgs, "", conv) == [None, None, None]


# --- Stop and the API endpoint -----------------------------------------------------------

def test_stop_marks_the_draft_stopped_and_turns_stop_off_and_regenerate_on(chat):
    draft = [{"role": "user", "content": "Q?"},
             {"role": "assistant", "content": '<div class="dc-draft">Fac</div>'}]
    msgs, shown, stop, regenerate = chat.on_stopped(draft, REQUEST)
    assert msgs is shown and msgs[-1]["content"].startswith('<div class="dc-draft">Fac')
    assert "Stopped" in msgs[-1]["content"] and "Stopped" not in draft[-1]["content"]
    assert stop["interactive"] is False and regenerate["interactive"] is True


def test_stop_after_the_answer_came_leaves_it_as_it_is(chat):
    done = [{"role": "user", "content": "Q?"},
            {"role": "assistant", "content": '<div class="dc-answer">Fact.</div>'}]
    assert chat.on_stopped(done, REQUEST)[0] == done
    assert chat.on_stopped([], REQUEST)[0] == []


def test_the_gradio_api_answers_with_the_http_apis_answer_shape(chat, service):
    result = chat.ask_api("How tall?", [["Before?", "Yes."]])
    assert Answer.from_dict(result).answer == "Fact one. [1]"
    assert service.asked[-1] == dict(question="How tall?", history=[("Before?", "Yes.")],
                                     engine=None, k=None)  # "" and 0: the server's defaults
    chat.ask_api("Q?", None, 3, "openai")
    assert service.asked[-1]["k"] == 3 and service.asked[-1]["engine"] == "openai"
