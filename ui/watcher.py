"""The folder watcher: the index follows the files in its folders while the server runs.

Every ``watch_seconds`` a cheap look (names, sizes, mtimes: rag.fingerprint) at the indexed
folders and the documents folder; when it changed, one refresh through the service (the same
update the page's Refresh button makes). A folder that is missing keeps its documents (issue
20 item 1); a failure it knows (a read-only or full disk) is one line, logged once, and the
rounds back off while it lasts; split from ui/service.py (issue 17).
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from rag import fingerprint
from rag.errors import DocchatError, SourceMissingError, storage_error

if TYPE_CHECKING:
    from ui.service import Service

log = logging.getLogger(__name__)
#: While updates fail (a read-only or full disk), the watcher waits twice as long after each
#: failed round, up to this many seconds, instead of reading and embedding again every round.
WATCH_BACKOFF_MAX = 300.0


class Watcher:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.unavailable = ""  # the last failure (a folder missing, the index not writable),
        # if any: each is logged once, not every round

    def start(self) -> threading.Event | None:
        """Watch in a daemon thread; returns its stop event (None when watching is off,
        ``watch_seconds`` <= 0)."""
        if self.service.settings.watch_seconds <= 0:
            return None
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="docchat-watch",
                         daemon=True).start()
        return stop

    def run(self, stop: threading.Event) -> None:
        """Round after round until ``stop`` is set."""
        service, every = self.service, self.service.settings.watch_seconds
        # None: the first look refreshes at once, so files added, changed or removed while
        # the server was down are taken in at start (an unchanged folder costs a no-op run)
        last = None
        wait = every
        while True:
            failed = False
            try:
                now = fingerprint(service.watched_paths(),
                                  service.settings.follow_outside_symlinks)
                if now != last:
                    summary = service.refresh()
                    log.info("folders changed: %d added, %d updated, %d removed",
                             len(summary.added), len(summary.updated), len(summary.removed))
                    last = now
                    self.unavailable = ""
            except SourceMissingError as e:  # keep every document; look again next round
                if str(e) != self.unavailable:
                    log.warning("a watched folder is unavailable, its documents are kept "
                                "until it is back: %s", e)
                self.unavailable = str(e)
            except Exception as e:  # a bad moment (file half-written, disk full) must not kill it
                failed = True
                # a read-only or full disk printed a traceback every round: a known failure is
                # one line, logged once; an unknown one keeps its traceback
                known = storage_error(e) or (e if isinstance(e, (DocchatError, OSError))
                                              else None)
                if known is None:
                    log.exception("watching the document folders failed; trying again")
                elif str(known) != self.unavailable:
                    log.warning("the index could not be updated; trying again (less often "
                                "while it fails): %s", known)
                self.unavailable = str(known or e)
            # each failed round reads and embeds the changes again: back off while it fails
            wait = min(wait * 2, max(WATCH_BACKOFF_MAX, every)) if failed else every
            if stop.wait(wait):
                return
