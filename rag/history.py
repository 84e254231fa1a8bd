"""The one place a conversation's history is sliced."""
from __future__ import annotations

from typing import Sequence, TypeVar

T = TypeVar("T")


def recent(items: Sequence[T], turns: int) -> list[T]:
    """The last ``turns`` items, oldest first; ``turns <= 0`` means none (a plain
    ``items[-turns:]`` would give the whole history for 0)."""
    items = list(items)
    return items[max(0, len(items) - turns):] if turns > 0 else []
