"""Which segments to merge next: size tiers, as Lucene's tiered policies do."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class MergePolicy:
    factor: int  # this many segments of one size tier are merged into one
    floor: int  # segments up to this many live chunks are all in the lowest tier
    deletes: float  # a segment with this share of tombstoned rows is rewritten


@dataclass(frozen=True)
class SegmentSize:
    name: str
    rows: int  # rows written in the segment
    dead: int  # of which tombstoned


def tier(live: int, policy: MergePolicy) -> int:
    """0 up to ``floor`` live chunks, then one tier per factor of growth."""
    return 0 if live <= policy.floor else 1 + int(math.log(live / policy.floor, policy.factor))


def candidates(segments: Sequence[SegmentSize], policy: MergePolicy) -> list[str]:
    """The next group to merge ([] when none): a segment with too many deletes alone, else
    the smallest tier holding ``factor`` segments."""
    tiers: dict[int, list[str]] = {}
    for s in segments:
        if s.rows and s.dead / s.rows >= policy.deletes:
            return [s.name]
        tiers.setdefault(tier(s.rows - s.dead, policy), []).append(s.name)
    for t in sorted(tiers):
        if len(tiers[t]) >= policy.factor:
            return tiers[t]
    return []
