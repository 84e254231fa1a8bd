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

from ui.service import Service  # noqa: E402
from ui.stopping import Runs  # noqa: E402


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
        first update on (Regenerate's: the replaced answer's thumb goes)."""
        session = session_of(request)
        run = self.runs.start(session)
        try:
            for m, h, a, src, box, conv, done in gen:  # done: in the same (last) update as
                # the answer, so a question asked the moment it shows is not dropped as a repeat
                if run.stop.is_set():  # Stop was pressed: its "Stopped" is the last word
                    return
                listing = gr.update(choices=self.conv_choices(user), value=conv) if conv \
                    else gr.skip()
                if conv and request is not None:  # the page knows its conversation's id now
                    self.forget_pending(request)
                chat = m if thumbs is None else gr.update(value=m, feedback_value=thumbs)
                thumbs = None
                yield (m, chat, h, a, src, box, conv, listing, conv or "",
                       gr.update(interactive=not done), gr.update(interactive=done))
        finally:
            gen.close()  # ends the engine's generation too
            self.runs.end(session, run)
