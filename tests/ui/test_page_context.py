"""ui/page_context.py Page.asked: what each update of an answer being made sends to the page
(Gradio outputs, in ui/app.py's order: msgs, chat, history, answers, sources, question box,
conversation, listing, last conversation, Stop, Regenerate). No Gradio server: the handler's
generator is driven directly, with a stand-in for run_question."""
from __future__ import annotations

import threading
import time

from rag.settings import Settings  # noqa: F401  (gradio's environment first)

import gradio as gr  # noqa: E402

from ui.page_context import Page  # noqa: E402

SKIP = type(gr.skip())


class _Conversations:
    def list(self, user):
        return []


class _Service:
    conversations = _Conversations()


def _updates(steps):
    """run_question's yields: (msgs, history, answers, sources, box, conv, done)."""
    for pause, update in steps:
        time.sleep(pause)
        yield update


def _interactive(update) -> bool:
    return update["interactive"] if isinstance(update, dict) else update.get("interactive")


def test_regenerates_first_update_sends_the_shortened_history_then_drafts_skip_it():
    """Regenerate drops the answer it replaces from the history and the answers; its first
    update must carry that (a Stop after it sends nothing more), later drafts need not."""
    page = Page(_Service())
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "draft"}]
    history, answers = [("older", "a")], ["older answer"]  # the replaced turn already gone
    steps = [(0, (msgs, history, answers, gr.skip(), "", "c1", False)),
             (0.4, (msgs, history, answers, gr.skip(), "", "c1", False)),
             (0.4, (msgs, history + [("q", "new")], answers + ["new"], "<sources>", "", "c1",
                    True))]
    got = list(page.asked(_updates(steps), "", None))
    assert len(got) == 3
    first, draft, last = got
    assert first[2] == history and first[3] == answers and first[6] == "c1"
    assert _interactive(first[9]) and not _interactive(first[10])  # Stop on, Regenerate off
    assert all(isinstance(x, SKIP) for x in (draft[2], draft[3], draft[6], draft[7], draft[8]))
    assert last[2] == history + [("q", "new")] and last[4] == "<sources>"
    assert not _interactive(last[9]) and _interactive(last[10])


def test_after_stop_nothing_more_is_sent_and_the_run_ends():
    page = Page(_Service())
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "draft"}]
    steps = [(0, (msgs, [], [], gr.skip(), "", None, False)),
             (3, (msgs, [], [], gr.skip(), "", None, False))]
    updates = page.asked(_updates(steps), "", None)
    assert next(updates)[0] == msgs
    threading.Timer(0.2, lambda: page.runs.stop("", wait=0)).start()
    t = time.monotonic()
    assert list(updates) == [] and time.monotonic() - t < 2
    assert page.runs.stop("", wait=0)  # no run left for the session
