"""Deterministic crash points of the embedded store's write path (a test hook).

``DOCCHAT_CRASH_AT=<point>`` makes the process die (``os._exit(137)``: no cleanup, no
``finally``, no flush, as a power cut or a SIGKILL would) the first time the write path reaches
``<point>``. The crash tests (tests/store/test_crash_points.py) run a real ``docchat index`` with it
for every point below and check that the previous committed state is complete and readable,
that nothing of the crashed run is visible, and that the next run cleans up and finishes.

It costs nothing when unset: the variable is read once, at import, and ``at`` is then a
function that does nothing. It is not a setting (not in rag/settings.py): no user needs it.
"""
from __future__ import annotations

import os

from rag.errors import DocchatError
from rag.settings import crash_point

#: Every point where a killed writer can leave partial state, in the order a run reaches them.
POINTS = {
    "reset-pending": "a full rebuild has durably recorded that it started; nothing else written",
    "segment-written": "a commit's new segment is written in seg-N.tmp, not synced or renamed",
    "segment-renamed": "the new segment is synced and renamed to seg-N; no transaction lists it",
    "before-commit": "the commit's transaction holds every row; COMMIT not run",
    "after-commit": "the commit is durable; the merges it makes due have not started",
    "merge-written": "a merge's segment is written in seg-M.tmp",
    "merge-renamed": "the merged segment is synced and renamed to seg-M; the swap not committed",
    "merge-before-commit": "the swap transaction holds its changes; COMMIT not run",
    "merge-after-commit": "the swap is durable; its source folders are still on disk (retired)",
    "cleaning": "a new writer has removed one of several unreferenced segment folders",
    "no-change": "a writer that found nothing to change is closing",
}
EXIT_CODE = 137  # what a shell reports for a SIGKILLed process

_AT = crash_point()
if _AT and _AT not in POINTS:
    raise DocchatError(f"DOCCHAT_CRASH_AT={_AT!r}: must be one of {', '.join(POINTS)}")


def _crash(point: str) -> None:
    if point == _AT:
        os._exit(EXIT_CODE)


def _nothing(point: str) -> None:
    pass


#: ``crash.at("point")`` in the write path: dies there when DOCCHAT_CRASH_AT names the point.
at = _crash if _AT else _nothing
