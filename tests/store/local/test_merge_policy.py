"""rag/store/local/merge_policy.py: which segments merge next (size tiers, deletes first)."""
from __future__ import annotations

from rag.store.local.merge_policy import MergePolicy, SegmentSize, candidates, tier

POLICY = MergePolicy(factor=4, floor=1000, deletes=0.3)


def seg(name: str, rows: int, dead: int = 0) -> SegmentSize:
    return SegmentSize(name, rows, dead)


def test_tiers_grow_by_the_factor_above_the_floor():
    assert [tier(n, POLICY) for n in (0, 1, 999, 1000)] == [0, 0, 0, 0]
    assert [tier(n, POLICY) for n in (1001, 3999)] == [1, 1]
    assert [tier(n, POLICY) for n in (4100, 15000)] == [2, 2]
    assert tier(70_000, POLICY) == 4  # 1000 x 4^3 = 64,000 < 70,000 < 256,000


def test_the_smallest_tier_holding_factor_segments_merges():
    small = [seg(f"s{i}", 500) for i in range(4)]
    large = [seg(f"l{i}", 5000) for i in range(4)]
    assert candidates(large + small, POLICY) == ["s0", "s1", "s2", "s3"]
    assert candidates(large + small[:3], POLICY) == ["l0", "l1", "l2", "l3"]
    assert candidates(large[:3] + small[:3], POLICY) == []  # no tier is full
    assert candidates([], POLICY) == []


def test_segments_of_different_tiers_never_merge_together():
    mixed = [seg("a", 500), seg("b", 2000), seg("c", 5000), seg("d", 20000)]
    assert candidates(mixed, POLICY) == []


def test_a_segment_with_too_many_deletes_is_rewritten_alone_first():
    tiers_full = [seg(f"s{i}", 500) for i in range(4)]
    worn = seg("worn", 10_000, dead=3000)  # 30%: at the threshold
    assert candidates(tiers_full + [worn], POLICY) == ["worn"]
    assert candidates(tiers_full + [seg("fine", 10_000, dead=2999)], POLICY) == \
        ["s0", "s1", "s2", "s3"]


def test_a_tier_counts_live_rows_not_rows_written():
    # 2,000 rows of which 1,100 deleted (55%, a separate rule) would be rewritten alone; with
    # a higher deletes threshold it sits in tier 0 by its 900 live rows, beside small ones
    lenient = MergePolicy(factor=4, floor=1000, deletes=0.9)
    group = [seg("shrunk", 2000, dead=1100)] + [seg(f"s{i}", 300) for i in range(3)]
    assert candidates(group, lenient) == ["shrunk", "s0", "s1", "s2"]
    assert candidates(group, POLICY) == ["shrunk"]


def test_an_empty_segment_is_not_a_division_by_zero():
    assert candidates([seg("empty", 0)] + [seg(f"s{i}", 10) for i in range(3)], POLICY) == \
        ["empty", "s0", "s1", "s2"]
