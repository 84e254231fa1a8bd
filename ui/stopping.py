"""Stop that stays stopped: the page's answers in progress, one per page session.

Gradio's Stop sends two requests at once: our ``on_stopped`` handler (shows "Stopped",
disables Stop) and a cancel of the running answer. Its page submits the handler first and
the cancel without waiting, so the answer's next update could arrive after the handler's and
undo it: the draft without "Stopped" and Stop enabled again (seen in CI). ``Runs`` closes that
window on the server: Stop sets the run's flag, the answer yields nothing after it, and the
handler returns only once the answer's updates have ended (or ``wait`` seconds passed: Gradio's
cancel then discards whatever it would have sent). The updates end within a poll (50 ms) of
Stop (ui/background.py thinned); the engine itself stops after the step it is in, closed in
its own thread, which may be just after the handler returned."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Run:
    """One answer being made: ``stop`` is set by Stop, ``ended`` when its updates are over."""
    stop: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


class Runs:
    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> Run:
        """A new answer for the session: Stop waits for this one from now on."""
        run = Run()
        with self._lock:
            self._runs[session] = run
        return run

    def end(self, session: str, run: Run) -> None:
        run.ended.set()
        with self._lock:
            if self._runs.get(session) is run:
                del self._runs[session]

    def stop(self, session: str, wait: float) -> bool:
        """Stop the session's answer; True when it had ended within ``wait`` seconds."""
        with self._lock:
            run = self._runs.get(session)
        if run is None:
            return True
        run.stop.set()
        return run.ended.wait(wait)
