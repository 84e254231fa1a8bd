"""Work run in a thread while a page handler streams its progress (a summary of a long
document: ui/page_chat.py). The handler's generator stays in its own thread and yields the
work's progress reports as they come, at most one per ``every`` seconds (the newest one then;
the ones between are dropped). ``thinned`` does the same for a stream of page updates (an
answer being made: ui/page_context.py)."""
from __future__ import annotations

import contextvars
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


_ITEM, _ERROR, _END = "item", "error", "end"
#: How often a thinned stream looks at its stop event while nothing arrives (seconds).
_POLL_S = 0.05


def thinned(gen: Iterator[T], every: float, stop: threading.Event,
            copy: Callable[[T], T] = lambda item: item) -> Iterator[T]:
    """``gen``'s items, read in a daemon thread and handed on at most one per ``every``
    seconds: the first at once, then the newest of those that came meanwhile (the ones
    between are dropped), and the last always. Ends when ``gen`` ends (its error is raised
    here) or as soon as ``stop`` is set; ``gen`` is closed in its own thread either way, after
    the step it is in. ``copy`` is applied to each item in that thread (``gen`` may change an
    item it yielded while making the next)."""
    items: queue.SimpleQueue = queue.SimpleQueue()
    quit_ = threading.Event()

    def run() -> None:
        try:
            for item in gen:
                items.put((_ITEM, copy(item)))
                if quit_.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - raised on the reading side
            items.put((_ERROR, exc))
        finally:
            try:
                gen.close()  # type: ignore[attr-defined]
            finally:
                items.put((_END, None))

    # in a copy of the caller's context: Gradio finds the event a gr.Warning belongs to
    # through context variables, which a new thread does not inherit
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name="docchat-thinned",
                     daemon=True).start()
    sent: float | None = None
    pending: list = []  # the newest item not yet handed on, if any
    try:
        while True:
            try:
                kind, item = items.get(timeout=_POLL_S)
            except queue.Empty:
                kind = None
            if stop.is_set():
                return
            if kind == _ERROR:
                raise item
            if kind == _ITEM:
                pending[:] = [item]
            if pending and (kind == _END or sent is None
                            or time.monotonic() - sent >= every):
                sent = time.monotonic()
                yield pending.pop()
            if kind == _END:
                return
    finally:
        quit_.set()
