"""Work run in a thread while a page handler streams its progress (a summary of a long
document: ui/page_chat.py). The handler's generator stays in its own thread and yields the
work's progress reports as they come, at most one per ``every`` seconds (the newest one then;
the ones between are dropped)."""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
Report = Callable[[float, str], None]
_DONE = object()


class Background(Generic[T]):
    """``work(report)`` started in a daemon thread; ``progress()`` yields its reports
    (fraction, message) until it ends, ``result()`` returns what it returned or raises what
    it raised. If the page stops listening (Stop), the work runs to its end unobserved."""

    def __init__(self, work: Callable[[Report], T]) -> None:
        self._reports: queue.Queue = queue.Queue()
        self._outcome: tuple[bool, object] | None = None

        def run() -> None:
            try:
                self._outcome = (True, work(lambda f, m: self._reports.put((f, m))))
            except BaseException as exc:  # noqa: BLE001 - handed to result()
                self._outcome = (False, exc)
            finally:
                self._reports.put(_DONE)

        self._thread = threading.Thread(target=run, name="docchat-background", daemon=True)
        self._thread.start()

    def progress(self, every: float = 0.5) -> Iterator[tuple[float, str]]:
        last, pending = 0.0, None
        while True:
            try:
                item = self._reports.get(timeout=every if pending else None)
            except queue.Empty:
                item = None
            if item is _DONE:
                return
            if item is not None:
                pending = item
            if pending is not None and time.monotonic() - last >= every:
                yield pending
                last, pending = time.monotonic(), None

    def result(self) -> T:
        self._thread.join()
        assert self._outcome is not None
        ok, value = self._outcome
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]
