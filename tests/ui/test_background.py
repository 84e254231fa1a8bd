"""ui/background.py: a page handler streams the progress of work running in a thread."""
from __future__ import annotations

import threading
import time

import pytest

from rag.errors import DocchatError
from ui.background import Background, thinned


def test_progress_is_streamed_then_the_result_returned():
    def work(report):
        for i in range(1, 4):
            report(i / 4, f"step {i}")
            time.sleep(0.05)
        return "done"

    job = Background(work)
    seen = list(job.progress(every=0.01))
    assert seen == [(0.25, "step 1"), (0.5, "step 2"), (0.75, "step 3")]
    assert job.result() == "done"


def test_fast_reports_are_thinned_to_one_per_interval_newest_first():
    def work(report):
        for i in range(200):
            report(i / 200, f"step {i}")
        time.sleep(0.3)  # the newest report is shown before the work ends
        return 1

    job = Background(work)
    seen = list(job.progress(every=0.1))
    assert 1 <= len(seen) < 20 and seen[-1] == (199 / 200, "step 199"), seen
    assert job.result() == 1


def test_an_error_of_the_work_is_raised_by_result_not_lost():
    def work(report):
        report(0.1, "reading")
        raise DocchatError("notes.pdf: no text to summarise")

    job = Background(work)
    list(job.progress(every=0.01))
    with pytest.raises(DocchatError, match="no text to summarise"):
        job.result()


def test_a_long_summary_shows_its_progress_in_the_chat(monkeypatch):
    """Issue 22: a summary of a long document streams its progress into the chat's draft
    (it showed one fixed line for the whole of a 117-page PDF), then the cited summary."""
    from types import SimpleNamespace

    from rag.types import Answer, Document
    from ui import page_chat

    monkeypatch.setattr(page_chat, "PROGRESS_EVERY_S", 0.01)

    class Service:
        def document(self, doc_id):
            return Document(id="d1", path="/docs/long.pdf", name="long.pdf", type="pdf")

        def summarise(self, ids, on_progress=None):
            for done in (32, 64, 96):
                on_progress(0.2 + 0.6 * done / 96, f"reading candidate sentences: {done} of 96")
                time.sleep(0.05)
            return Answer(question="Summarise long.pdf", answer="It is long. [1]", abstained=False)

        conversations = SimpleNamespace(add=lambda *a, **k: "conv-1")

    chat = page_chat.Chat(SimpleNamespace(service=Service()))
    shown = [(u[-1], u[5], u[0][-1]["content"])  # as sent: the messages are updated in place
             for u in chat.run_summary("d1", [], [], [], None, "", new_id="conv-1")]
    drafts = [text for done, _, text in shown if not done]
    assert any("Reading candidate sentences: 64 of 96" in d and "(60%)" in d for d in drafts)
    assert shown[-1][:2] == (True, "conv-1") and "It is long." in shown[-1][2]


# -- thinned: the updates of an answer being made (ui/page_context.py Page.asked) ------------

def _stream(steps, log):
    """A generator standing in for run_question: (pause before it, item) steps; it records
    the thread that closes it."""
    try:
        for pause, item in steps:
            time.sleep(pause)
            yield item
    finally:
        log.append(threading.current_thread().name)


def test_a_fast_stream_hands_on_its_first_and_last_items_only():
    """The extractive engine's draft and its "Checking..." step came a millisecond before
    the answer: showing them only cost the answer time."""
    closed = []
    got = list(thinned(_stream([(0, "searching"), (0.01, "reading"), (0.01, "draft"),
                                (0, "checking"), (0, "answer")], closed), 5,
                       threading.Event()))
    assert got == ["searching", "answer"]
    assert closed == ["docchat-thinned"]  # closed in its own thread, where it ran


def test_a_step_that_lasts_is_shown_within_the_interval_and_nothing_is_lost_at_the_end():
    t0 = time.monotonic()
    seen = []
    for item in thinned(_stream([(0, "searching"), (0.02, "reading"), (0.6, "draft 1"),
                                 (0.01, "draft 2"), (0, "answer")], []), 0.2,
                        threading.Event()):
        seen.append((item, time.monotonic() - t0))
    items = [i for i, _ in seen]
    assert items[0] == "searching" and items[-1] == "answer"
    assert "reading" in items  # its step lasted 0.6 s: it was shown meanwhile
    shown_reading = dict(seen)["reading"]
    assert shown_reading < 0.45, seen  # within the interval (and a poll) of its coming


def test_stop_ends_the_updates_at_once_and_closes_the_stream_after_its_step():
    stop, closed = threading.Event(), []
    updates = thinned(_stream([(0, "searching"), (1.5, "never"), (5, "nor this")], closed),
                      0.1, stop)
    assert next(updates) == "searching"
    t = time.monotonic()
    threading.Timer(0.1, stop.set).start()
    assert list(updates) == [] and time.monotonic() - t < 1  # not after the 1.5 s step
    deadline = time.monotonic() + 10
    while not closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert closed == ["docchat-thinned"]  # after its step, not after the 5 s one
    assert time.monotonic() - t < 4


def test_an_error_of_the_stream_is_raised_where_it_is_read():
    def failing():
        yield "searching"
        raise RuntimeError("the engine failed")

    updates = thinned(failing(), 0.05, threading.Event())
    assert next(updates) == "searching"
    with pytest.raises(RuntimeError, match="the engine failed"):
        next(updates)


def test_each_item_is_copied_in_the_streams_thread():
    """run_question changes the last message of the list it yielded while it makes the next
    update: what is handed on is a copy made when it was yielded."""
    def stream():
        msgs = [{"content": "searching"}]
        yield msgs
        msgs[0]["content"] = "answer"
        yield msgs

    got = list(thinned(stream(), 10, threading.Event(), copy=lambda m: [dict(x) for x in m]))
    assert [m[0]["content"] for m in got] == ["searching", "answer"]


def test_the_stream_runs_in_the_callers_context():
    """Gradio finds the event a gr.Warning belongs to through context variables; a summary
    of an unknown document warned from inside the stream and the page never saw it."""
    import contextvars

    event = contextvars.ContextVar("event", default=None)
    event.set("event-7")

    def stream():
        yield event.get()

    assert list(thinned(stream(), 0.1, threading.Event())) == ["event-7"]
