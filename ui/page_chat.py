"""The chat's handlers: ask a question (or "summarise <document>"), Regenerate the last
answer, Stop the one being made, summarise a document picked in the library; and the page's
Gradio API endpoint "ask". Answers stream into the chat and are stored as turns of the open
conversation. Wired to the page in ui/app.py."""
from __future__ import annotations

import html
import re
from pathlib import Path

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag.errors import DocchatError  # noqa: E402
from rag.types import Answer, DocumentStatus, Stage  # noqa: E402
from ui.background import Background  # noqa: E402
from ui.escape import text_html  # noqa: E402
from ui.gradio_inputs import Endpoint  # noqa: E402
from ui.page_context import THUMBS, Page, session_of, user_of  # noqa: E402
from ui.page_conversation import FINAL  # noqa: E402
from ui.render_chat import answer_html, draft_html, error_html, stopped_html  # noqa: E402
from ui.render_sources import sources_html  # noqa: E402

#: How long Stop waits for the answer it stops to send its last update (see ui/stopping.py).
STOP_WAIT_S = 2.0
#: At most one progress update of a summary in the chat this often (seconds).
PROGRESS_EVERY_S = 0.5
#: A question asking for a summary of a document: "summarise notes.pdf", "Summarize: notes"
SUMMARISE = re.compile(r"(?i)^\s*summari[sz]e\s*:?\s+(?:the\s+)?(?:document\s+)?(.+)$")
#: Outputs of a question's handlers (on_ask, on_regenerate): see ``outputs`` in ui/app.py.
ASK_OUTPUTS = 11


def ask_api_problem(data: list) -> str:
    """Why the "ask" endpoint refuses these inputs ("" when it takes them): POST /api/ask's
    checks (ui.api_models.AskRequest), so a history turn that is not two texts, an empty or
    too long question, k out of 1..50 or an unknown engine is a 422, not a 500."""
    from pydantic import ValidationError

    from ui.api_models import AskRequest

    question, history, k, engine = data
    if not isinstance(k, int) or isinstance(k, bool):  # the handler takes k as it came
        return "k: Input should be a whole number (0: the default)"
    try:
        AskRequest(question=question, history=[] if history is None else history,
                   k=None if k == 0 else k, engine=engine or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "inputs"
        return f"{where}: {first['msg']}"
    return ""


#: The inputs of the page's Gradio API endpoint "ask" (ask_api): the question is required,
#: the rest take these defaults when a client leaves them out.
ASK_API_INPUTS = Endpoint(["question", "history", "k", "engine"], 1, [[], 0, ""],
                          ask_api_problem)


class Chat:
    """The handlers; each is a bound method: get it once for the events that share its
    concurrency limit (Gradio groups events by the handler object)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.service = page.service

    def run_question(self, question, msgs, history, answers, conv, user, engine, k, base_url,
                     model, scope=(), new_id=None):
        """Stream one question's answer into the chat, then store it in the conversation.
        Yields (msgs, history, answers, sources, question box, conversation id, done)."""
        service = self.service
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

    def on_ask(self, question, msgs, history, answers, conv, engine, k, base_url, model,
               scope, request: gr.Request):
        question = (question or "").strip()
        if not question:
            yield (gr.skip(),) * ASK_OUTPUTS
            return
        page = self.page
        user = user_of(request)
        named = self.summary_request(question)  # "summarise <document>": a cited summary
        if named is not None:
            yield from page.asked(self.run_summary(named, msgs, history, answers, conv, user,
                                                   page.new_conversation_id(request),
                                                   question), user, request)
            return
        yield from page.asked(self.run_question(question, msgs, history, answers, conv, user,
                                                engine, k, base_url, model, scope or (),
                                                page.new_conversation_id(request)),
                              user, request)

    def summary_request(self, question: str) -> str | None:
        """The document id a "summarise <name>" question names (by file name, with or without
        its suffix, any case), or None: then it is an ordinary question."""
        m = SUMMARISE.match(question)
        if not m:
            return None
        want = m.group(1).strip().strip("\"'“”").lower()
        for d in self.service.documents():
            if d.status == DocumentStatus.INDEXED and want in (d.name.lower(), Path(d.name).stem.lower()):
                return d.id
        return None

    def run_summary(self, doc_id, msgs, history, answers, conv, user, new_id=None,
                    typed=None):
        """A cited summary of one document into the chat, as a turn of the conversation.
        Yields what run_question yields; the question box is left as it is unless the
        summary was asked for in it (``typed``)."""
        service = self.service
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
        work = Background(lambda report: service.summarise([doc.id], on_progress=report))
        for frac, message in work.progress(PROGRESS_EVERY_S):  # a long document takes a while
            msgs[-1]["content"] = draft_html("", f"{message[:1].upper()}{message[1:]}… "
                                                 f"({frac:.0%})")
            yield msgs, history, answers, gr.skip(), box, conv, False
        try:
            summary = work.result()
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

    def on_summarise(self, doc_id, msgs, history, answers, conv, request: gr.Request):
        user = user_of(request)
        yield from self.page.asked(self.run_summary(doc_id, msgs, history, answers, conv, user,
                                                    self.page.new_conversation_id(request)),
                                   user, request)

    def on_regenerate(self, msgs, history, answers, conv, engine, k, base_url, model, scope,
                      request: gr.Request):
        """Ask the last question again (its old answer is replaced)."""
        users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
        if not users:
            yield (gr.skip(),) * ASK_OUTPUTS
            return
        store = self.service.conversations
        user = user_of(request)
        last = users[-1]
        content = msgs[last]["content"]
        question = html.unescape(content if isinstance(content, str) else str(content))
        # its answer came (a finished answer bubble follows it; a summary's Answer has its
        # own question, "Summary of ..."): it is replaced
        if answers and last == len(msgs) - 2 and str(msgs[-1]["content"]).startswith(FINAL):
            answers, history = answers[:-1], history[:-1]
        new_id = self.page.new_conversation_id(request)
        if not conv and store.count(user, new_id):
            conv = new_id  # a stopped first question was stored, its id never reached the page
        if conv and store.count(user, conv) > len(answers):
            store.drop_last(user, conv)  # the turn being asked again (also
            # one a Stop cut off after it was stored: it must not stay as a duplicate)
        named = self.summary_request(question)  # a summary is made again, not asked
        run = self.run_summary(named, msgs[:last], history, answers, conv, user, new_id,
                               question) if named is not None else \
            self.run_question(question, msgs[:last], history, answers, conv, user, engine, k,
                              base_url, model, scope or (), new_id)
        yield from self.page.asked(run, user, request,
                                   thumbs=self.thumbs_before(msgs[:last], user, conv))

    def thumbs_before(self, msgs, user: str, conv) -> list[str | None]:
        """The chat's thumbs for ``msgs`` (the messages kept when the last question is asked
        again) from their stored ratings, and none for the answer being made: the thumb the
        replaced answer was given (its rating went with it) must not stay on the new one.
        Only finished answers have a stored turn (an error, a stopped draft or the "older
        turns" line has none); the shown answers are the conversation's newest turns."""
        assistant = [m for m in msgs if m.get("role") == "assistant"]
        final = [str(m.get("content")).startswith(FINAL) for m in assistant]
        try:
            turns = self.service.conversations.turns(user, conv) if conv else []
        except DocchatError:  # deleted meanwhile: Regenerate starts a new conversation
            turns = []
        shown = turns[max(0, len(turns) - sum(final)):]
        rated = iter([THUMBS.get(t.feedback.rating) if t.feedback else None for t in shown])
        lead = sum(final) - len(shown)  # finished answers with no stored turn (none, normally)
        thumbs = []
        for is_final in final:
            if is_final and lead > 0:
                lead -= 1
                thumbs.append(None)
            else:
                thumbs.append(next(rated, None) if is_final else None)
        return thumbs + [None]

    def on_stopped(self, msgs, request: gr.Request):
        self.page.runs.stop(session_of(request), STOP_WAIT_S)  # its updates end before this one
        if msgs and msgs[-1]["role"] == "assistant" and "dc-draft" in str(msgs[-1]["content"]):
            msgs = msgs[:-1] + [{"role": "assistant",
                                 "content": msgs[-1]["content"] + stopped_html()}]
        return msgs, msgs, gr.update(interactive=False), gr.update(interactive=True)

    def ask_api(self, question: str, history: list[list[str]] | None = None, k: int = 0,
                engine: str = "") -> dict:  # keep ASK_API_INPUTS in step
        """Answer a question with verified citations (the answer shape of POST /api/ask)."""
        return self.service.answer(question, [tuple(t) for t in history or []],
                                   engine or None, k or None).to_dict()
