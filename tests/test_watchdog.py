"""Stalled-partition detection (pure): behind the log end and not moving."""

from __future__ import annotations

from faust.types import TP

from streams.watchdog import Progress

A, B = TP("p.orders.created", 0), TP("p.orders.created", 1)


def test_behind_and_still_for_the_stall_time_is_stalled():
    p = Progress()
    assert p.stalled({A: 10}, {A: 10}, {A: 50}, now=0.0, stall_s=20) == []
    assert p.stalled({A: 10}, {A: 10}, {A: 60}, now=19.0, stall_s=20) == []
    assert p.stalled({A: 10}, {A: 10}, {A: 70}, now=20.0, stall_s=20) == [A]


def test_fetching_or_committing_is_progress():
    p = Progress()
    p.stalled({A: 10, B: 10}, {A: 5, B: 5}, {A: 50, B: 50}, now=0.0, stall_s=20)
    # A fetched more, B committed more (its stream buffer is full but it works)
    assert p.stalled({A: 11, B: 10}, {A: 5, B: 6}, {A: 50, B: 50}, now=15.0, stall_s=20) == []
    assert p.stalled({A: 11, B: 10}, {A: 5, B: 6}, {A: 50, B: 50}, now=30.0, stall_s=20) == []
    assert p.stalled({A: 11, B: 10}, {A: 5, B: 6}, {A: 50, B: 50}, now=35.0,
                     stall_s=20) == [A, B]


def test_caught_up_or_unknown_is_never_stalled():
    p = Progress()
    for now in (0.0, 30.0, 60.0):
        # A at its log end (a retry agent waiting for a due time); B's end unknown
        assert p.stalled({A: 50, B: 10}, {A: 40, B: 10}, {A: 50}, now=now, stall_s=20) == []
    assert p.seen == {}


def test_revoked_partitions_are_forgotten_and_restart_gives_fresh_time():
    p = Progress()
    p.stalled({A: 1, B: 1}, {}, {A: 9, B: 9}, now=0.0, stall_s=20)
    p.stalled({A: 1}, {}, {A: 9}, now=5.0, stall_s=20)
    assert set(p.seen) == {A}
    assert p.stalled({A: 1}, {}, {A: 9}, now=20.0, stall_s=20) == [A]
    p.restart(A, now=20.0)
    assert p.stalled({A: 1}, {}, {A: 9}, now=39.0, stall_s=20) == []
    assert p.stalled({A: 1}, {}, {A: 9}, now=40.0, stall_s=20) == [A]
