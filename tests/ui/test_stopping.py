"""Stop waits for the answer it stops, so the answer's updates cannot land after "Stopped"."""
import threading
import time

from ui.stopping import Runs


def test_stop_returns_only_after_the_answer_has_ended():
    runs = Runs()
    run = runs.start("s")
    order = []

    def answer():  # an answer checks the flag between its steps, as ui/app.py's asked() does
        while not run.stop.is_set():
            time.sleep(0.05)
        time.sleep(0.2)  # its last step still running when Stop is pressed
        order.append("answer ended")
        runs.end("s", run)

    threading.Thread(target=answer).start()
    assert runs.stop("s", wait=5)
    order.append("stop returned")
    assert order == ["answer ended", "stop returned"]


def test_stop_gives_up_after_its_wait_and_without_a_run_returns_at_once():
    runs = Runs()
    runs.start("s")  # an answer stuck in a long step never ends here
    t = time.monotonic()
    assert runs.stop("s", wait=0.2) is False
    assert 0.15 < time.monotonic() - t < 2
    assert runs.stop("other session", wait=5) is True


def test_stop_finds_the_latest_answer_of_its_own_session():
    runs = Runs()
    first, other = runs.start("s"), runs.start("t")
    second = runs.start("s")
    runs.end("s", first)  # the older one ending late does not forget the newer one
    assert runs.stop("s", wait=0.1) is False
    assert second.stop.is_set() and not other.stop.is_set()
