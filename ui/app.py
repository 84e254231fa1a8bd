"""The chat page: Gradio Blocks and their handlers (served with the API by ui.server).

Thin by design: every handler calls ui.service.Service, which calls rag/ like the CLI does.
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
import unicodedata
import uuid
from pathlib import Path

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag.engines import ENGINES  # noqa: E402
from rag.errors import DocchatError  # noqa: E402
from rag.ingest.loaders import SUPPORTED  # noqa: E402
from rag.types import Answer, Stage, Turn  # noqa: E402
from ui.gradio_inputs import Endpoint  # noqa: E402
from ui.render import (answer_html, draft_html, error_html, older_html,  # noqa: E402
                       library_html, sources_html, stopped_html, text_html)
from ui.library_text import (library_choices, reindex_note, scope_choices,  # noqa: E402
                             skipped_md, status_md, summary_md)
from ui.service import Service  # noqa: E402
from ui import page_conversation  # noqa: E402
from ui.stopping import Runs  # noqa: E402

log = logging.getLogger(__name__)
#: Turns of a stored conversation the page shows when it is opened (the latest ones).
SHOWN_TURNS = 50
#: How long Stop waits for the answer it stops to send its last update (see ui/stopping.py).
STOP_WAIT_S = 2.0
#: The chat's thumb for a stored rating (Gradio's feedback_options).
THUMBS = {"up": "Like", "down": "Dislike"}
#: A question asking for a summary of a document: "summarise notes.pdf", "Summarize: notes"
SUMMARISE = re.compile(r"(?i)^\s*summari[sz]e\s*:?\s+(?:the\s+)?(?:document\s+)?(.+)$")
#: Outputs of a question's handlers (on_ask, on_regenerate): see ``outputs`` in build_blocks.
ASK_OUTPUTS = 11
#: Minimum width of the Ask and Stop buttons beside the question box.
BUTTON_MIN_PX = 70
#: Position of the question box among the outputs a conversation switch clears.
CLEARED_QUESTION = 5

#: The inputs of the page's Gradio API endpoint "ask" (ask_api): the question is required,
#: the rest take these defaults when a client leaves them out.
ASK_API_INPUTS = Endpoint(["question", "history", "k", "engine"], 1, [[], 0, ""])
THEME = gr.themes.Base(font=["ui-sans-serif", "system-ui", "sans-serif"],  # no web fonts:
                       font_mono=["ui-monospace", "monospace"])  # the page works offline


def session_of(request) -> str:
    """The page session a Gradio request comes from ("" outside a page)."""
    return getattr(request, "session_hash", None) or ""


def build_blocks(service: Service) -> gr.Blocks:
    def progress_cb(progress: gr.Progress):
        return lambda frac, msg: progress(frac, desc=msg)

    def user_of(request: gr.Request | None) -> str:
        # NFC: the login compares names NFC, and the API files conversations under it too
        name = (getattr(request, "username", None) or "") if request else ""
        return unicodedata.normalize("NFC", name)

    def conv_choices(user: str) -> list[tuple[str, str]]:
        return [(c.title, c.id) for c in service.conversations.list(user)]

    def run_question(question, msgs, history, answers, conv, user, engine, k, base_url, model,
                     scope=(), new_id=None):
        """Stream one question's answer into the chat, then store it in the conversation.
        Yields (msgs, history, answers, sources, question box, conversation id, done)."""
        msgs = msgs + [{"role": "user", "content": text_html(question)},
                       {"role": "assistant", "content": draft_html(
                           "Searching the documents…" if service.model_ready.is_set()
                           else "Loading the model… (first question after start)")}]
        yield msgs, history, answers, gr.skip(), "", conv, False
        draft, answer = "", None
        stream = service.ask(question, history, engine, int(k), list(scope) or None,
                             openai_base_url=base_url, openai_model=model)
        try:
            for event in stream:
                if isinstance(event, Answer):
                    answer = event
                    continue
                if isinstance(event, Stage):  # a slow step begins: say so under the draft
                    msgs[-1]["content"] = draft_html(draft, event.text)
                else:
                    draft += event
                    msgs[-1]["content"] = draft_html(draft)
                yield msgs, history, answers, gr.skip(), "", conv, False
        except DocchatError as exc:
            msgs[-1]["content"] = error_html(str(exc))
            yield msgs, history, answers, gr.skip(), question, conv, True  # question kept
            return
        finally:  # Stop (or a closed page) ends the engine's generation, not just the display
            stream.close()
        answers = answers + [answer]
        msgs[-1]["content"] = answer_html(answer, len(answers) - 1)
        history = history + [(answer.question, answer.answer)]
        try:
            conv = service.conversations.add(user, conv, question, answer, new_id=new_id)
        except DocchatError:  # the conversation was deleted meanwhile: start a new one
            conv = service.conversations.add(user, None, question, answer)
        yield msgs, history, answers, sources_html(answers), "", conv, True

    def asked(gen, user, request=None):
        """on_ask/on_regenerate outputs from run_question's yields; Stop is enabled while
        the answer is being made (on_stopped disables it when it is pressed), Regenerate
        once it is done (answered or failed)."""
        session = session_of(request)
        run = runs.start(session)
        try:
            for m, h, a, src, box, conv, done in gen:  # done: in the same (last) update as
                # the answer, so a question asked the moment it shows is not dropped as a repeat
                if run.stop.is_set():  # Stop was pressed: its "Stopped" is the last word
                    return
                listing = gr.update(choices=conv_choices(user), value=conv) if conv \
                    else gr.skip()
                if conv and request is not None:  # the page knows its conversation's id now
                    forget_pending(request)
                yield (m, m, h, a, src, box, conv, listing, conv or "",
                       gr.update(interactive=not done), gr.update(interactive=done))
        finally:
            gen.close()  # ends the engine's generation too
            runs.end(session, run)

    def on_ask(question, msgs, history, answers, conv, engine, k, base_url, model, scope,
               request: gr.Request):
        question = (question or "").strip()
        if not question:
            yield (gr.skip(),) * ASK_OUTPUTS
            return
        user = user_of(request)
        named = summary_request(question)  # "summarise <document>": a cited summary
        if named is not None:
            yield from asked(run_summary(named, msgs, history, answers, conv, user,
                                         new_conversation_id(request), question), user, request)
            return
        yield from asked(run_question(question, msgs, history, answers, conv, user, engine, k,
                                      base_url, model, scope or (),
                                      new_conversation_id(request)), user, request)

    def summary_request(question: str) -> str | None:
        """The document id a "summarise <name>" question names (by file name, with or without
        its suffix, any case), or None: then it is an ordinary question."""
        m = SUMMARISE.match(question)
        if not m:
            return None
        want = m.group(1).strip().strip("\"'“”").lower()
        for d in service.documents():
            if d.status == "indexed" and want in (d.name.lower(), Path(d.name).stem.lower()):
                return d.id
        return None

    def run_summary(doc_id, msgs, history, answers, conv, user, new_id=None, typed=None):
        """A cited summary of one document into the chat, as a turn of the conversation.
        Yields what run_question yields; the question box is left as it is unless the
        summary was asked for in it (``typed``)."""
        try:
            doc = service.document(doc_id or "")
        except DocchatError as exc:
            yield msgs, history, answers, gr.skip(), gr.skip(), conv, True
            gr.Warning(str(exc))
            return
        asked_for = typed or f"Summarise {doc.name}"
        box = "" if typed else gr.skip()
        msgs = msgs + [{"role": "user", "content": text_html(asked_for)},
                       {"role": "assistant", "content": draft_html(
                           "", "Choosing the sentences that cover the document…")}]
        yield msgs, history, answers, gr.skip(), box, conv, False
        try:
            summary = service.summarise([doc.id])
        except DocchatError as exc:
            msgs[-1]["content"] = error_html(str(exc))
            yield msgs, history, answers, gr.skip(), typed or gr.skip(), conv, True
            return
        answers = answers + [summary]
        msgs[-1]["content"] = answer_html(summary, len(answers) - 1)
        history = history + [(summary.question, summary.answer)]
        try:
            conv = service.conversations.add(user, conv, asked_for, summary, new_id=new_id)
        except DocchatError:
            conv = service.conversations.add(user, None, asked_for, summary)
        yield msgs, history, answers, sources_html(answers), box, conv, True

    def on_summarise(doc_id, msgs, history, answers, conv, request: gr.Request):
        user = user_of(request)
        yield from asked(run_summary(doc_id, msgs, history, answers, conv, user,
                                     new_conversation_id(request)), user, request)

    def on_regenerate(msgs, history, answers, conv, engine, k, base_url, model, scope,
                      request: gr.Request):
        """Ask the last question again (its old answer is replaced)."""
        users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
        if not users:
            yield (gr.skip(),) * ASK_OUTPUTS
            return
        user = user_of(request)
        last = users[-1]
        content = msgs[last]["content"]
        question = html.unescape(content if isinstance(content, str) else str(content))
        if answers and answers[-1].question == " ".join(question.split()) and \
                "dc-error" not in str(msgs[-1]["content"]):
            answers, history = answers[:-1], history[:-1]
        new_id = new_conversation_id(request)
        if not conv and service.conversations.count(user, new_id):
            conv = new_id  # a stopped first question was stored, its id never reached the page
        if conv and service.conversations.count(user, conv) > len(answers):
            service.conversations.drop_last(user, conv)  # the turn being asked again (also
            # one a Stop cut off after it was stored: it must not stay as a duplicate)
        yield from asked(run_question(question, msgs[:last], history, answers, conv, user,
                                      engine, k, base_url, model, scope or (), new_id), user,
                         request)

    pending: dict[str, str] = {}  # page session -> id its next new conversation gets
    runs = Runs()  # page session -> the answer being made, for Stop

    def new_conversation_id(request) -> str:
        """The id a question starting a conversation gives it, chosen before it is stored
        and kept until the page learns it: Regenerate after a Stop that cut off that moment
        then finds the conversation the stopped question stored, instead of making a twin."""
        return pending.setdefault(session_of(request), uuid.uuid4().hex)

    def forget_pending(request: gr.Request):
        pending.pop(session_of(request), None)

    def on_stopped(msgs, request: gr.Request):
        runs.stop(session_of(request), STOP_WAIT_S)  # its updates end before this one
        if msgs and msgs[-1]["role"] == "assistant" and "dc-draft" in str(msgs[-1]["content"]):
            msgs = msgs[:-1] + [{"role": "assistant",
                                 "content": msgs[-1]["content"] + stopped_html()}]
        return msgs, msgs, gr.update(interactive=False), gr.update(interactive=True)

    def conversation_view(turns: list[Turn]):
        """A stored conversation as the page shows it: its latest SHOWN_TURNS turns (a
        10,000-turn one took 213 s and 1.2 GB of browser memory to open whole, then froze
        the page); the older ones are in the downloads. ``answers`` keeps every turn, so
        numbering, Regenerate and feedback still refer to the stored turns."""
        answers = [t.answer for t in turns]
        first = max(0, len(turns) - SHOWN_TURNS)
        msgs = [{"role": "assistant", "content": older_html(first)}] if first else []
        thumbs = [None] if first else []  # the thumbs each answer was given, shown again
        for i, t in enumerate(turns[first:], start=first):
            msgs += [{"role": "user", "content": text_html(t.question)},
                     {"role": "assistant", "content": answer_html(t.answer, i)}]
            thumbs.append(THUMBS.get(t.feedback.rating) if t.feedback else None)
        history = [(a.question, a.answer) for a in answers]
        return msgs, gr.update(value=msgs, feedback_value=thumbs), history, answers, \
            sources_html(answers)

    def on_open(conv, request: gr.Request):
        user = user_of(request)
        try:
            turns = service.conversations.turns(user, conv) if conv else []
        except DocchatError:
            conv, turns = None, []
        return (*conversation_view(turns), "", conv,
                gr.update(choices=conv_choices(user), value=conv), conv or "",
                gr.update(value=service.conversations.get(user, conv).title if conv else ""))

    def on_rename(conv, title, request: gr.Request):
        user = user_of(request)
        if conv and not (title or "").strip():  # said, not silently ignored
            gr.Warning("A conversation needs a name: type one in Title, then Rename (the "
                       "old name is kept).")
        elif conv:
            service.conversations.rename(user, conv, title or "")
        return gr.update(choices=conv_choices(user), value=conv)

    def on_delete_conv(conv, request: gr.Request):
        user = user_of(request)
        if conv:
            try:
                service.conversations.delete(user, conv)
            except DocchatError:
                pass
        return (*on_new(), gr.update(choices=conv_choices(user), value=None), "",
                gr.update(visible=False))

    def on_new():  # no thumbs of the conversation left behind on the new one's answers
        return [], gr.update(value=[], feedback_value=[]), [], [], sources_html(None), "", None

    def library(name_filter: str = "", keep: str | None = None):
        """The library table, the document choice (``keep`` stays chosen if it is still
        listed, else none) and the actions that choice allows."""
        docs = service.documents()
        keep = keep if any(d.id == keep for d in docs) else None
        return (library_html(docs, name_filter or ""),
                gr.update(choices=library_choices(docs, name_filter or ""), value=keep),
                *actions(keep), gr.update(choices=scope_choices(docs, service.scope_folders())))

    def scope_of(answers):
        """The picker as the conversation's last answer left it (its scope), on opening it."""
        last = answers[-1].scope if answers else ()
        if not last:
            return gr.update(value=[])
        ids = {d.path: d.id for d in service.documents()}
        return gr.update(value=[ids[p] for p in last if p in ids])

    def on_upload(paths, name_filter, progress=gr.Progress()):
        if not paths:
            return gr.skip(), gr.skip(), None, gr.skip(), gr.skip()
        handles = [open(p, "rb") for p in paths]
        try:
            saved, summary = service.add_files(
                ((Path(p).name, fh) for p, fh in zip(paths, handles)), progress_cb(progress))
            log_text = summary_md(summary, saved)
        except DocchatError as exc:
            log_text = f"**Upload refused:** {text_html(str(exc))}"
        finally:
            for fh in handles:
                fh.close()
        return (log_text, status_md(service.status(), service.docs), None, *library(name_filter))

    def on_load(last_conv, request: gr.Request):
        # the index may have changed since the page was built: show it as it is; reopen the
        # conversation this browser had open (kept in its localStorage)
        st = service.status()
        examples = service.example_questions(len(example_btns))
        buttons = [gr.update(value=q, visible=True) for q in examples] + \
            [gr.update(visible=False)] * (len(example_btns) - len(examples))
        opened = list(on_open(last_conv or None, request))
        opened[CLEARED_QUESTION] = gr.update(interactive=True)  # typing may start now: a
        # question typed earlier would have been wiped by this reload of the conversation
        return (status_md(st, service.docs), skipped_md(st), *library(), *opened, *buttons)

    def on_refresh(full, name_filter, progress=gr.Progress()):
        try:
            log_text = summary_md(service.refresh(bool(full), progress_cb(progress)))
        except DocchatError as exc:
            log_text = f"**Index update failed:** {text_html(str(exc))}"
        return (log_text, status_md(service.status(), service.docs), *library(name_filter))

    def on_pick_delete(doc_id):
        if not doc_id:
            return gr.update(visible=False), ""
        try:
            doc = service.document(doc_id)
        except DocchatError as exc:
            return gr.update(visible=False), text_html(str(exc))
        what = ("The uploaded file is deleted from the documents folder."
                if service.in_uploads(doc) else
                "The file stays in its folder and is left out of the index from now on.")
        return gr.update(visible=True), (f"Remove **{text_html(doc.name)}** from the index? "
                                         f"{what}")

    def actions(doc_id):
        """The library actions the chosen document allows (Re-index, Remove, Include again):
        an excluded one can only be included again; the others re-indexed or removed."""
        try:
            status = service.document(doc_id).status if doc_id else ""
        except DocchatError:
            status = ""
        return (gr.update(interactive=status in ("indexed", "skipped")),
                gr.update(interactive=status in ("indexed", "skipped")),
                gr.update(interactive=status == "excluded"))

    def summarisable(doc_id) -> bool:
        try:
            return bool(doc_id) and service.document(doc_id).status == "indexed"
        except DocchatError:
            return False

    def on_pick(doc_id):
        return (*actions(doc_id), gr.update(visible=False), "")

    def acted(note, doc_id, name_filter):
        """After Re-index / Include again: the note, the status line, and the library with
        the same document still chosen."""
        return (note, status_md(service.status(), service.docs),
                *library(name_filter, doc_id))

    def on_reindex(doc_id, name_filter, progress=gr.Progress()):
        if not doc_id:
            return (gr.skip(),) * 7  # note, status and the library's 5 outputs
        try:
            doc, changed, summary = service.reindex_document(doc_id, progress_cb(progress))
            note = reindex_note(doc, changed, summary)
        except DocchatError as exc:
            note = f"**Not re-indexed:** {text_html(str(exc))}"
        return acted(note, doc_id, name_filter)

    def on_include(doc_id, name_filter, progress=gr.Progress()):
        if not doc_id:
            return (gr.skip(),) * 7  # note, status and the library's 5 outputs
        try:
            doc, _ = service.include_document(doc_id, progress_cb(progress))
            note = (f"**{text_html(doc.name)}** is back in the index." if doc and
                    doc.status == "indexed" else
                    f"**{text_html(doc.name)}** is included again but was not indexed: "
                    f"{text_html(doc.reason)}" if doc else
                    "Included again; the file is no longer on disk.")
        except DocchatError as exc:
            note = f"**Not included:** {text_html(str(exc))}"
        return acted(note, doc_id, name_filter)

    def on_confirm_delete(doc_id, name_filter):
        try:
            doc, _ = service.delete_document(doc_id)
            note = f"Removed **{text_html(doc.name)}** from the index."
        except DocchatError as exc:
            note = f"**Not removed:** {text_html(str(exc))}"
        return (gr.update(visible=False), note, status_md(service.status(), service.docs),
                *library(name_filter))

    def ask_api(question: str, history: list[list[str]] | None = None, k: int = 0,
                engine: str = "") -> dict:  # keep ASK_API_INPUTS in step
        """Answer a question with verified citations (the answer shape of POST /api/ask)."""
        return service.answer(question, [tuple(t) for t in history or []], engine or None,
                              k or None).to_dict()

    s = service.settings
    with gr.Blocks(title="docchat", analytics_enabled=False) as blocks:
        gr.Markdown("## docchat: ask your documents, check every citation\n"
                    "HTTP API: [/docs](/docs)", elem_id="header")
        status = gr.Markdown(status_md(service.status(), service.docs), elem_id="status")
        msgs, history, answers = gr.State([]), gr.State([]), gr.State([])
        conv = gr.State(None)  # the open conversation's id (None: not stored yet)
        last_conv = gr.BrowserState("", storage_key="docchat-conversation",
                                    secret=hashlib.sha256(str(s.data_path).encode()).hexdigest())
        with gr.Row():
            with gr.Column(scale=1, min_width=200, elem_id="conversations"):
                new_btn = gr.Button("New conversation", elem_id="new-chat", size="sm",
                                    variant="primary")
                conv_list = gr.Radio(choices=[], label="Conversations", elem_id="conv-list")
                # enabled while a stored conversation is open (see conv.change below)
                conv_title = gr.Textbox(label="Title", elem_id="conv-title", max_lines=1,
                                        interactive=False)
                with gr.Row():
                    rename_btn = gr.Button("Rename", elem_id="conv-rename", size="sm",
                                           interactive=False)
                    conv_del = gr.Button("Delete…", elem_id="conv-delete", size="sm",
                                         variant="stop", interactive=False)
                with gr.Row(visible=False) as conv_confirm_row:
                    conv_confirm = gr.Button("Yes, delete it", elem_id="conv-confirm",
                                             size="sm", variant="stop")
                    conv_cancel = gr.Button("Cancel", elem_id="conv-cancel", size="sm")
                # enabled while a stored conversation is open (page_conversation.wire)
                downloads = page_conversation.download_buttons()
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
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="sources")
        with gr.Accordion("Documents", open=True):
            upload = gr.File(label=f"Add documents ({', '.join(SUPPORTED)}; at most "
                             f"{s.upload_max_mb:g} MiB each)", file_count="multiple",
                             file_types=list(SUPPORTED), elem_id="upload")
            with gr.Row():
                full = gr.Checkbox(label="Re-embed everything", value=False, elem_id="full")
                refresh_btn = gr.Button("Refresh index", elem_id="rebuild", size="sm")
            index_log = gr.Markdown(skipped_md(service.status()), elem_id="index-log")
        with gr.Accordion("Library", open=True, elem_id="library-panel"):
            lib_filter = gr.Textbox(label="Filter by name", elem_id="lib-filter")
            lib_table = gr.HTML(elem_id="library")
            with gr.Row():
                lib_pick = gr.Dropdown(label="Document", choices=[], elem_id="lib-pick",
                                       scale=4)
                lib_reindex = gr.Button("Re-index", elem_id="lib-reindex", scale=1,
                                        interactive=False)
                lib_include = gr.Button("Include again", elem_id="lib-include", scale=1,
                                        interactive=False)
                lib_delete = gr.Button("Remove from index…", elem_id="lib-delete", scale=1,
                                       variant="stop", interactive=False)
                lib_summarise = gr.Button("Summarise", elem_id="lib-summarise", scale=1,
                                          interactive=False)
            with gr.Row(visible=False, elem_id="lib-confirm-row") as confirm_row:
                lib_confirm = gr.Button("Yes, remove it", elem_id="lib-confirm",
                                        variant="stop")
                lib_cancel = gr.Button("Cancel", elem_id="lib-cancel")
            lib_note = gr.Markdown(elem_id="lib-note")
        with gr.Accordion("Settings", open=False):
            engine = gr.Radio(list(ENGINES), value=s.engine, label="Answer engine",
                              elem_id="engine")
            top_k = gr.Slider(1, 20, value=s.top_k, step=1, label="Passages (top-k)")
            base_url = gr.Textbox(s.openai_base_url, label="OpenAI-compatible base URL")
            model = gr.Textbox(s.openai_model, label="Model (empty: the server's first)")

        settings_in = [engine, top_k, base_url, model, scope]
        outputs = [msgs, chat, history, answers, sources, question, conv, conv_list, last_conv,
                   stop_btn, regen_btn]
        assert len(outputs) == ASK_OUTPUTS
        asks = [trigger(on_ask, [question, msgs, history, answers, conv, *settings_in], outputs,
                        api_visibility="private", concurrency_limit=4)
                for trigger in (question.submit, ask_btn.click)]
        asks.append(regen_btn.click(on_regenerate, [msgs, history, answers, conv, *settings_in],
                                    outputs, api_visibility="private", concurrency_limit=4))
        for btn in example_btns:  # an example question: put it in the box and ask it
            asks.append(btn.click(lambda q: q, btn, question, api_visibility="private").then(
                on_ask, [question, msgs, history, answers, conv, *settings_in], outputs,
                api_visibility="private", concurrency_limit=4))
        asks.append(lib_summarise.click(on_summarise, [lib_pick, msgs, history, answers, conv],
                                        outputs, api_visibility="private",
                                        concurrency_limit=2))
        lib_pick.input(lambda d: gr.update(interactive=summarisable(d)), lib_pick,
                       lib_summarise, api_visibility="private")
        stop_btn.click(on_stopped, msgs, [msgs, chat, stop_btn, regen_btn], cancels=asks,
                       api_visibility="private", concurrency_limit=None)  # it may wait: one
        # page's Stop must not queue behind another's
        # a conversation opened, stored (its first answer), left or deleted: what it allows
        conv.change(lambda c: (gr.update(interactive=bool(c)),) * 4, conv,
                    [conv_title, rename_btn, conv_del, regen_btn], api_visibility="private")
        cleared = [msgs, chat, history, answers, sources, question, conv]
        assert cleared[CLEARED_QUESTION] is question
        new_outputs = [*cleared, conv_list, last_conv, conv_title]
        new_btn.click(lambda: (*on_new(), gr.update(value=None), "", ""), None, new_outputs,
                      api_visibility="private")
        chat.clear(lambda: (*on_new(), gr.update(value=None), "", ""), None, new_outputs,
                   api_visibility="private")  # the chat's trash icon
        conv_list.input(on_open, conv_list, [*cleared, conv_list, last_conv, conv_title],
                        api_visibility="private").then(
            scope_of, answers, scope, api_visibility="private")
        new_btn.click(lambda: gr.update(value=[]), None, scope, api_visibility="private")
        new_btn.click(forget_pending, None, None, api_visibility="private")
        chat.clear(forget_pending, None, None, api_visibility="private")
        conv_list.input(forget_pending, None, None, api_visibility="private")
        renamed = rename_btn.click(on_rename, [conv, conv_title], conv_list,
                                   api_visibility="private")
        page_conversation.wire(service, user_of, chat=chat, msgs=msgs, answers=answers,
                               conv=conv, renamed=renamed, downloads=downloads,
                               feedback=feedback)
        conv_del.click(lambda c: gr.update(visible=bool(c)), conv, conv_confirm_row,
                       api_visibility="private")
        conv_cancel.click(lambda: gr.update(visible=False), None, conv_confirm_row,
                          api_visibility="private")
        conv_confirm.click(on_delete_conv, conv, [*cleared, conv_list, last_conv,
                                                  conv_confirm_row], api_visibility="private")
        lib_actions = [lib_reindex, lib_delete, lib_include]
        lib_out = [lib_table, lib_pick, *lib_actions, scope]  # what library() returns
        # the progress bar goes over the log under the drop zone, never over the status line
        upload.upload(on_upload, [upload, lib_filter],
                      [index_log, status, upload, *lib_out], api_visibility="private",
                      show_progress_on=index_log)
        refresh_btn.click(on_refresh, [full, lib_filter], [index_log, status, *lib_out],
                          api_visibility="private", show_progress_on=index_log)
        lib_filter.change(library, lib_filter, lib_out, api_visibility="private")
        # picking a document, Remove… and Cancel run one after the other in the order they
        # were clicked: a pick answered after a quick Remove… hid its confirmation (seen in CI)
        in_order = {"concurrency_id": "library-pick", "concurrency_limit": 1}
        lib_pick.input(on_pick, lib_pick, [*lib_actions, confirm_row, lib_note],
                       api_visibility="private", **in_order)
        acted_out = [lib_note, status, *lib_out]
        lib_reindex.click(on_reindex, [lib_pick, lib_filter], acted_out,
                          api_visibility="private", show_progress_on=lib_note)
        lib_include.click(on_include, [lib_pick, lib_filter], acted_out,
                          api_visibility="private", show_progress_on=lib_note)
        lib_delete.click(on_pick_delete, lib_pick, [confirm_row, lib_note],
                         api_visibility="private", **in_order)
        lib_cancel.click(lambda: (gr.update(visible=False), ""), None, [confirm_row, lib_note],
                         api_visibility="private", **in_order)
        lib_confirm.click(on_confirm_delete, [lib_pick, lib_filter],
                          [confirm_row, lib_note, status, *lib_out], api_visibility="private")
        blocks.load(on_load, last_conv, [status, index_log, *lib_out, *cleared, conv_list,
                                         last_conv, conv_title, *example_btns],
                    api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=4)
    return blocks
