"""ui/watcher.py: the folder watcher, on a real index (the service's uploads, deletes and
library actions are tested through the API in api/test_documents.py and test_library.py)."""
from __future__ import annotations

import logging
import threading
import time

import pytest

pytestmark = pytest.mark.slow


def test_the_watcher_says_once_that_a_read_only_index_cannot_be_updated_and_backs_off(
        tmp_path, immutable, caplog):
    """Issue 20 item 12: with an index that cannot be written, the watcher logged SQLite's
    traceback every round and read and embedded the changed files again each time. Now one
    warning line, no traceback, rounds further and further apart, and the index answers."""
    from rag import ask
    from rag.settings import Settings
    from ui.service import Service
    from ui.watcher import Watcher

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "depot.md").write_text("The Brno tram depot keeps 77 trams in its north hall.\n")
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), docs=(str(docs),),
                                 upload_dir=str(tmp_path / "uploads"), watch_seconds=0.05)
    service = Service(settings)
    service.ensure_index()
    (docs / "archive.md").write_text("The Olomouc archive holds 9,000 glass plates.\n")
    index = tmp_path / "index"
    immutable(*sorted(index.glob("*")), index)  # not its .lock: SQLite is what refuses
    rounds = []
    real = service.refresh

    def counted(*a, **kw):
        rounds.append(time.monotonic())
        return real(*a, **kw)

    service.refresh = counted
    caplog.set_level(logging.WARNING, logger="ui.watcher")
    stop = threading.Event()
    watcher = threading.Thread(target=Watcher(service).run, args=(stop,))
    watcher.start()
    time.sleep(1.6)  # about 32 rounds of 0.05 s without the back-off
    stop.set()
    watcher.join(10)
    assert 2 <= len(rounds) <= 7, len(rounds)  # 0.05 + 0.1 + 0.2 + 0.4 + 0.8 s apart
    warned = [r for r in caplog.records if r.name == "ui.watcher"]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING, warned
    said = warned[0].getMessage()
    assert warned[0].exc_info is None and ("read-only" in said or "not permitted" in said), said
    assert "77" in ask(service.index, "How many trams does the Brno depot keep?").answer
