"""How many questions are computed at once, and how many may wait (issue 20, item 13).

On 2 cores, 30 questions computed together all finish late (each gets 1/15 of a core; p95
30.7 s measured with 30 clients): answering ``slots`` at a time, in arrival order, keeps each
one's time close to its own cost plus its wait. Past ``queue`` waiting questions the server
answers 503 with Retry-After at once instead of letting everyone wait longer."""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import Iterator

from rag.errors import DocchatError

RETRY_AFTER_SECONDS = 5


class BusyError(DocchatError):
    """Too many questions are waiting (HTTP 503 with Retry-After)."""

    retry_after = RETRY_AFTER_SECONDS


class Admission:
    def __init__(self, slots: int, queue: int) -> None:
        self.slots, self.queue = slots, queue
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._serving = 0  # the next ticket allowed in, once a slot is free
        self._running = 0
        self._waiting = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for a slot in arrival order (FIFO tickets); BusyError when the queue is full."""
        with self._cond:
            if self._waiting >= self.queue and (self._running >= self.slots or self._waiting):
                raise BusyError(f"the server is answering {self._running} questions and "
                                f"{self._waiting} more are waiting (DOCCHAT_QUESTION_QUEUE); "
                                f"try again in {RETRY_AFTER_SECONDS} s")
            ticket = next(self._tickets)
            self._waiting += 1
            try:
                self._cond.wait_for(lambda: ticket == self._serving
                                    and self._running < self.slots)
            finally:
                self._waiting -= 1
            self._serving += 1
            self._running += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()
