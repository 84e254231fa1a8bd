"""What the page's handlers share (ui/page_chat.py, ui/page_conversations.py,
ui/page_library.py): the service, who is asking, and the answer each page session is making.

One Page is made per page (build_blocks): its ``pending`` and ``runs`` are that page's state
across the sessions of all the browsers that have it open.
"""
from __future__ import annotations

import unicodedata
import uuid

from rag.settings import Settings  # noqa: F401  sets HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from ui.background import thinned  # noqa: E402
from ui.service import Service  # noqa: E402
from ui.stopping import Runs  # noqa: E402


#: At most one update of an answer being made is sent to the page this often (seconds): see
#: Page.asked.
UPDATE_EVERY_S = 0.25
#: The chat's thumb for a stored rating (Gradio's feedback_value).
THUMBS = {"up": "Like", "down": "Dislike"}


def session_of(request) -> str:
    """The page session a Gradio request comes from ("" outside a page)."""
    return getattr(request, "session_hash", None) or ""


def progress_cb(progress: gr.Progress):
    """A service's progress callback (fraction, message) shown on Gradio's progress bar."""
    return lambda frac, msg: progress(frac, desc=msg)


def user_of(request: gr.Request | None) -> str:
    """The logged-in user of a request ("" without a login)."""
    # NFC: the login compares names NFC, and the API files conversations under it too
    name = (getattr(request, "username", None) or "") if request else ""
    return unicodedata.normalize("NFC", name)


class Page:
    """The service and the page's per-session state. Its ``forget_pending`` is a handler
    too: get it once (``page.forget_pending``) for the events that share it."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.pending: dict[str, str] = {}  # page session -> id its next new conversation gets
        self.runs = Runs()  # page session -> the answer being made, for Stop

    def conv_choices(self, user: str) -> list[tuple[str, str]]:
        return [(c.title, c.id) for c in self.service.conversations.list(user)]

    def new_conversation_id(self, request) -> str:
        """The id a question starting a conversation gives it, chosen before it is stored
        and kept until the page learns it: Regenerate after a Stop that cut off that moment
        then finds the conversation the stopped question stored, instead of making a twin."""
        return self.pending.setdefault(session_of(request), uuid.uuid4().hex)

    def forget_pending(self, request: gr.Request):
        self.pending.pop(session_of(request), None)

    def asked(self, gen, user, request=None, thumbs: list | None = None):
        """on_ask/on_regenerate outputs from run_question's yields; Stop is enabled while
        the answer is being made (on_stopped disables it when it is pressed), Regenerate
        once it is done (answered or failed). ``thumbs``: the chat's thumbs to show from the
        first update on (Regenerate's: the replaced answer's thumb goes).

        The yields are thinned (ui.background.thinned): the first at once, then at most one
        every UPDATE_EVERY_S, the last always. Each update the page is sent cost about 40 ms
        of the answer's own time (Gradio's processing of it competes with the answer for
        the interpreter) and the extractive engine's draft and "Checking..." step came a
        millisecond before its answer: the page took 2.4x the API's time (issue 19 item 12).
        A step that lasts shows within UPDATE_EVERY_S, and an LLM's draft streams at that
        pace."""
        session = session_of(request)
        run = self.runs.start(session)
        updates = thinned(gen, UPDATE_EVERY_S, run.stop, copy=_own_messages)
        first = True
        try:
            for m, h, a, src, box, conv, done in updates:  # done: in the same (last) update
                # as the answer, so a question asked the moment it shows is not dropped as a
                # repeat
                if run.stop.is_set():  # Stop was pressed: its "Stopped" is the last word
                    return
                chat = m if thumbs is None else gr.update(value=m, feedback_value=thumbs)
                thumbs = None
                if not done and not first:  # a later draft: the history, answers and
                    # conversation are as the first update left them (sending them again
                    # cost a copy of every answer each time)
                    yield (m, chat, gr.skip(), gr.skip(), src, box, gr.skip(), gr.skip(),
                           gr.skip(), gr.update(interactive=True), gr.update(interactive=False))
                    continue
                first = False  # the first update sends them all: Regenerate's has already
                # dropped the answer it replaces, which a Stop must not leave on the page
                listing = gr.update(choices=self.conv_choices(user), value=conv) if conv \
                    else gr.skip()
                if conv and request is not None:  # the page knows its conversation's id now
                    self.forget_pending(request)
                yield (m, chat, h, a, src, box, conv, listing, conv or "",
                       gr.update(interactive=not done), gr.update(interactive=done))
        finally:
            updates.close()  # gen is closed in its thread: that ends the engine's generation
            self.runs.end(session, run)


def _own_messages(update: tuple) -> tuple:
    """An update with its own copy of the chat's messages: run_question changes the last
    message of the list it yielded while it makes the next update."""
    m, *rest = update
    return ([dict(x) for x in m], *rest) if isinstance(m, list) else update
