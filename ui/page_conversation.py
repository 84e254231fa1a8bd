"""The page's conversation extras: *Download* the open conversation (Markdown or JSON, as
GET /api/conversations/{id}/export), and a thumb up or down on each answer (a thumb down
opens a panel that asks why). Built into the page by ui/page_layout.py (the components)
and ui/app.py (the events); every handler calls the conversation store
(rag/conversations.py) as the API does. The Conversations column's other handlers (open,
new, rename, delete) are ui/page_conversations.py."""
from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from rag.settings import Settings  # noqa: F401  sets GRADIO_ANALYTICS_ENABLED first

import gradio as gr  # noqa: E402

from rag.conversations import export_json, export_markdown, export_name  # noqa: E402
from rag.errors import DocchatError  # noqa: E402
from ui.escape import text_html  # noqa: E402
from ui.service import Service  # noqa: E402

#: A thumb down's reasons, as the panel offers them (label, stored value).
REASON_CHOICES = [("It cites the wrong source", "wrong_source"),
                  ("It should have said the documents do not answer it", "should_abstain"),
                  ("It missed an answer the documents hold", "missed_answer"),
                  ("Something else", "other")]
FINAL = ('<div class="dc-answer"', '<div class="dc-abstain"')  # a finished answer's bubble
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def download_buttons() -> tuple[gr.DownloadButton, gr.DownloadButton]:
    """Enabled while a stored conversation is open (see wire)."""
    with gr.Row(elem_id="conv-download"):
        md = gr.DownloadButton("Download Markdown", elem_id="conv-download-md", size="sm",
                               interactive=False)
        js = gr.DownloadButton("Download JSON", elem_id="conv-download-json", size="sm",
                               interactive=False)
    return md, js


def feedback_panel() -> tuple[gr.Column, gr.Radio, gr.Textbox, gr.Button, gr.Markdown,
                              gr.State]:
    """Shown after a thumb down: why, a note, Save. Returns (panel, reason, note, save,
    status line, target: the (conversation id, turn) the thumb down was given to)."""
    with gr.Column(visible=False, elem_id="feedback-panel") as panel:
        reason = gr.Radio(REASON_CHOICES, label="What was wrong with this answer?",
                          elem_id="feedback-reason")
        note = gr.Textbox(label="Note (optional)", elem_id="feedback-note", lines=2,
                          max_lines=6)
        save = gr.Button("Save feedback", elem_id="feedback-save", size="sm",
                         variant="primary")
    status = gr.Markdown(elem_id="feedback-status")
    return panel, reason, note, save, status, gr.State(None)


def rated_turn(service: Service, user: str, conv: str | None, msgs: list, answers: list,
               index) -> int | None:
    """The stored turn (1-based) of the chat message at ``index``, when it is a finished
    answer of the open stored conversation; None otherwise (a draft, an error, a stopped
    answer, or nothing stored yet)."""
    i = index[0] if isinstance(index, (list, tuple)) and index else index
    if not conv or not isinstance(i, int) or not 0 <= i < len(msgs):
        return None
    finals = [j for j, m in enumerate(msgs[:i + 1])
              if m.get("role") == "assistant" and str(m.get("content")).startswith(FINAL)]
    shown = sum(1 for m in msgs if m.get("role") == "assistant"
                and str(m.get("content")).startswith(FINAL))
    if not finals or finals[-1] != i or shown > len(answers):
        return None
    # the answer's place among the conversation's answers, counted from the newest: a long
    # conversation shows only its latest turns, while ``answers`` holds them all
    k = len(answers) - (shown - len(finals)) - 1
    try:
        turns = service.conversations.turns(user, conv)
    except DocchatError:
        return None

    def same(t) -> bool:
        return t.answer.question == answers[k].question and t.answer.answer == answers[k].answer
    if k < len(turns) and same(turns[k]):
        return k + 1
    found = [n for n, t in enumerate(turns, 1) if same(t)]
    return found[-1] if found else None


class ExportFiles:
    """The open conversation written as files for the download buttons, in a temporary
    folder of this process (Gradio serves files from the system's temp folder)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="docchat-exports-"))
        atexit.register(shutil.rmtree, self.root, True)

    def write(self, service: Service, user: str, conv: str) -> tuple[str, str]:
        c = service.conversations.get(user, conv)
        turns = service.conversations.turns(user, conv)
        name = conv if _SAFE_ID.fullmatch(conv) else hashlib.sha256(conv.encode()).hexdigest()
        folder = self.root / hashlib.sha256(f"{user}\0{name}".encode()).hexdigest()[:32]
        folder.mkdir(exist_ok=True)
        paths = []
        for fmt, text in (("md", export_markdown(c, turns)), ("json", export_json(c, turns))):
            path = folder / export_name(c, fmt)
            for old in folder.glob(f"*.{fmt}"):  # a renamed conversation's older file
                if old != path:
                    old.unlink(missing_ok=True)
            part = folder / f"{path.name}.{os.getpid()}.{id(text)}.part"
            part.write_text(text, encoding="utf-8")
            os.replace(part, path)
            paths.append(str(path))
        return paths[0], paths[1]


def wire(service: Service, user_of: Callable, *, chat, msgs, answers, conv, renamed,
         downloads: tuple, feedback: tuple) -> None:
    """The events: the download buttons (``download_buttons()``) follow the open
    conversation (opened, answered, renamed, rated, left); a thumb is stored at once; a
    thumb down opens the panel (``feedback_panel()``). ``renamed``: the Rename event."""
    files = ExportFiles()
    off = gr.update(value=None, interactive=False)
    panel, reason, note, save, status, target = feedback
    downloads = list(downloads)

    def exports(conv_id, request: gr.Request):
        if not conv_id:
            return off, off
        try:
            md, js = files.write(service, user_of(request), conv_id)
        except DocchatError:  # deleted meanwhile
            return off, off
        return gr.update(value=md, interactive=True), gr.update(value=js, interactive=True)

    def on_like(data: gr.LikeData, msgs_now, answers_now, conv_id, request: gr.Request):
        hidden = gr.update(visible=False)
        user = user_of(request)
        turn = rated_turn(service, user, conv_id, msgs_now, answers_now, data.index)
        if turn is None:
            return (None, hidden, gr.skip(), gr.skip(),
                    "Only a finished, stored answer can be rated.")
        try:
            if data.liked is True:
                service.conversations.rate(user, conv_id, turn, "up")
                return None, hidden, None, "", f"Answer {turn} rated up. Thank you."
            if data.liked is False:
                service.conversations.rate(user, conv_id, turn, "down")
                return ((conv_id, turn), gr.update(visible=True), None, "",
                        f"Answer {turn} rated down. What was wrong with it?")
            service.conversations.unrate(user, conv_id, turn)  # the thumb taken back
            return None, hidden, None, "", f"Rating of answer {turn} removed."
        except DocchatError as exc:
            return None, hidden, gr.skip(), gr.skip(), f"**Not saved:** {text_html(str(exc))}"

    def on_save(rated, why, text, request: gr.Request):
        if not rated:
            return gr.update(visible=False), None, "Rate an answer first."
        conv_id, turn = rated
        try:
            service.conversations.rate(user_of(request), conv_id, turn, "down", why or None,
                                       text or "")
        except (DocchatError, ValueError) as exc:  # a note over the limit: say so, keep it
            return gr.skip(), gr.skip(), f"**Not saved:** {text_html(str(exc))}"
        return gr.update(visible=False), None, f"Feedback on answer {turn} saved. Thank you."

    def left():
        return gr.update(visible=False), None, ""

    conv.change(exports, conv, downloads, api_visibility="private")
    answers.change(exports, conv, downloads, api_visibility="private")
    conv.change(left, None, [panel, target, status], api_visibility="private")
    renamed.then(exports, conv, downloads, api_visibility="private")
    chat.like(on_like, [msgs, answers, conv], [target, panel, reason, note, status],
              api_visibility="private").then(exports, conv, downloads,
                                             api_visibility="private")
    save.click(on_save, [target, reason, note], [panel, target, status],
               api_visibility="private").then(exports, conv, downloads,
                                              api_visibility="private")
