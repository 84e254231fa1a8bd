"""ui/background.py: a page handler streams the progress of work running in a thread."""
from __future__ import annotations

import time

import pytest

from rag.errors import DocchatError
from ui.background import Background


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
