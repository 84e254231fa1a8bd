"""The Conversations column's handlers: open a stored conversation (and, when the page
loads, the one this browser had open), start a new one, rename, delete. Its downloads and
the thumbs on answers are ui/page_conversation.py. Wired to the page in ui/app.py."""
from __future__ import annotations

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag.errors import DocchatError  # noqa: E402
from rag.types import Turn  # noqa: E402
from ui.escape import text_html  # noqa: E402
from ui.library_text import skipped_md, status_md  # noqa: E402
from ui.page_context import THUMBS, Page, user_of  # noqa: E402
from ui.page_library import Library  # noqa: E402
from ui.render_chat import answer_html, older_html  # noqa: E402
from ui.render_sources import sources_html  # noqa: E402

#: Turns of a stored conversation the page shows when it is opened (the latest ones).
SHOWN_TURNS = 50
#: The chat's thumb for a stored rating (Gradio's feedback_options).
#: Position of the question box among the outputs a conversation switch clears.
CLEARED_QUESTION = 5


class Conversations:
    """The handlers; ``library`` and ``examples`` (how many example questions the page
    offers) are for on_load, which fills the whole page."""

    def __init__(self, page: Page, library: Library, examples: int) -> None:
        self.page = page
        self.service = page.service
        self.library = library
        self.examples = examples

    def conversation_view(self, turns: list[Turn]):
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

    def on_open(self, conv, request: gr.Request):
        store = self.service.conversations
        user = user_of(request)
        try:
            turns = store.turns(user, conv) if conv else []
        except DocchatError:
            conv, turns = None, []
        return (*self.conversation_view(turns), "", conv,
                gr.update(choices=self.page.conv_choices(user), value=conv), conv or "",
                gr.update(value=store.get(user, conv).title if conv else ""))

    def on_rename(self, conv, title, request: gr.Request):
        user = user_of(request)
        if conv and not (title or "").strip():  # said, not silently ignored
            gr.Warning("A conversation needs a name: type one in Title, then Rename (the "
                       "old name is kept).")
        elif conv:
            self.service.conversations.rename(user, conv, title or "")
        return gr.update(choices=self.page.conv_choices(user), value=conv)

    def on_delete_conv(self, conv, request: gr.Request):
        user = user_of(request)
        if conv:
            try:
                self.service.conversations.delete(user, conv)
            except DocchatError:
                pass
        return (*self.on_new(), gr.update(choices=self.page.conv_choices(user), value=None),
                "", gr.update(visible=False))

    def on_new(self):  # no thumbs of the conversation left behind on the new one's answers
        return [], gr.update(value=[], feedback_value=[]), [], [], sources_html(None), "", None

    def scope_of(self, answers):
        """The picker as the conversation's last answer left it (its scope), on opening it."""
        last = answers[-1].scope if answers else ()
        if not last:
            return gr.update(value=[])
        ids = {d.path: d.id for d in self.service.documents()}
        return gr.update(value=[ids[p] for p in last if p in ids])

    def on_load(self, last_conv, request: gr.Request):
        # the index may have changed since the page was built: show it as it is; reopen the
        # conversation this browser had open (kept in its localStorage)
        service = self.service
        st = service.status()
        examples = service.example_questions(self.examples)
        buttons = [gr.update(value=q, visible=True) for q in examples] + \
            [gr.update(visible=False)] * (self.examples - len(examples))
        opened = list(self.on_open(last_conv or None, request))
        opened[CLEARED_QUESTION] = gr.update(interactive=True)  # typing may start now: a
        # question typed earlier would have been wiped by this reload of the conversation
        return (status_md(st, service.docs), skipped_md(st), *self.library.library(), *opened,
                *buttons)
