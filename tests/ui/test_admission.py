"""Questions computed at once are bounded, the rest wait in arrival order, and past the queue
the server says so at once (issue 20, item 13). Unit tests of the gate with real threads; the
503 through a real server is in tests/ui/test_guard.py."""
from __future__ import annotations

import threading
import time

import pytest

from ui.admission import Admission, BusyError


def test_at_most_slots_run_at_once_and_waiters_enter_in_arrival_order():
    gate = Admission(slots=2, queue=10)
    running, peak, order = [0], [0], []
    lock = threading.Lock()

    def question(i):
        with gate.turn():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(8):
        t = threading.Thread(target=question, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.005)  # arrival order
    for t in threads:
        t.join(10)
    assert peak[0] == 2 and sorted(order) == list(range(8))
    assert order[2:] == sorted(order[2:])  # the waiting ones entered first come, first served


def test_past_the_queue_a_question_is_refused_at_once():
    gate = Admission(slots=1, queue=1)
    release = threading.Event()

    def hold():
        with gate.turn():
            release.wait(10)
    runner = threading.Thread(target=hold)
    runner.start()
    time.sleep(0.05)
    waiter = threading.Thread(target=hold)
    waiter.start()
    time.sleep(0.05)
    t = time.perf_counter()
    with pytest.raises(BusyError, match="DOCCHAT_QUESTION_QUEUE"):
        with gate.turn():
            pass
    assert time.perf_counter() - t < 0.5
    release.set()
    runner.join(5)
    waiter.join(5)
    with gate.turn():  # free again
        pass
