"""Building a page's text line by line, recording structural lines (headings, table headers)
as (start, end, level) offsets into the very text that is stored (see Page.structure)."""
from __future__ import annotations

import time

from rag.errors import LoadError
from rag.types import Page

TITLE, OTHER = 0, 9  # Page.structure levels: document title; non-prose line (table header)


def clean(text: str) -> str:
    """One line: runs of whitespace (newlines included) become one space, ends trimmed."""
    return " ".join(text.split())


class PageText:
    """Lines joined by newlines; blank lines are dropped."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._len = 0
        self._structure: list[tuple[int, int, int]] = []

    def add(self, line: str, level: int | None = None) -> None:
        line = clean(line)
        if not line:
            return
        if self._parts:
            self._parts.append("\n")
            self._len += 1
        start = self._len
        self._parts.append(line)
        self._len += len(line)
        if level is not None:
            self._structure.append((start, self._len, level))

    def __bool__(self) -> bool:
        return bool(self._parts)

    def page(self, path: str, number: int, label: str = "") -> Page:
        return Page(path=path, page=number, text="".join(self._parts), label=label,
                    structure=tuple(self._structure))


class Deadline:
    """The per-file reading budget (DOCCHAT_READ_SECONDS): ``check()`` raises LoadError once
    it is spent, so a hostile file is skipped with a reason instead of stalling the update."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds if seconds > 0 else float("inf")

    def left(self) -> float:
        """Seconds left (a large number when there is no limit)."""
        return min(self._end - time.monotonic(), 86_400.0)

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise LoadError(f"took longer than {self.seconds:g} s to read "
                            "(DOCCHAT_READ_SECONDS)")
