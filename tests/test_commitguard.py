"""The commit guard on faust's own offset arithmetic (no broker)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from faust.transport.consumer import Consumer
from intervaltree import IntervalTree

from streams.commitguard import Pending, _guarded

TP = ("ordercast.notify.email", 0)
FAUST_NEW_OFFSET = getattr(Consumer._new_offset, "__wrapped__", Consumer._new_offset)


def consumer(committed: int | None, acked: list[int]) -> SimpleNamespace:
    """The state faust's ``_new_offset`` reads, as a consumer would hold it."""
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}), _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
        _acked_index=defaultdict(set, {TP: set(acked)}))


def new_offset(pending: Pending, committed: int | None, acked: list[int]) -> int | None:
    return _guarded(FAUST_NEW_OFFSET, pending)(consumer(committed, acked), TP)


def pending_at(*offsets: int) -> Pending:
    p = Pending()
    for o in offsets:
        p.received(TP, o)
    return p


def test_faust_alone_commits_past_one_record_still_in_flight():
    # why the guard exists: if faust fixes this, the guard can go
    assert FAUST_NEW_OFFSET(consumer(10, [11, 12]), TP) == 13
    assert FAUST_NEW_OFFSET(consumer(None, [3, 4]), TP) == 5


def test_a_record_in_flight_at_the_head_holds_the_commit():
    pending = pending_at(10, 11, 12)
    pending.acked(TP, 11)
    pending.acked(TP, 12)
    assert new_offset(pending, 10, [11, 12]) is None
    pending.acked(TP, 10)
    assert new_offset(pending, 10, [10, 11, 12]) == 13


def test_records_in_flight_before_the_first_commit_hold_it():
    pending = pending_at(0, 1, 2)
    assert new_offset(pending, None, [3, 4]) is None
    assert new_offset(pending, 0, [3, 4]) is None


def test_offsets_never_fetched_hold_nothing():
    # compacted away (or a transaction marker): faust's own answer stands
    assert new_offset(Pending(), 10, [11, 12]) == 13
    assert new_offset(Pending(), None, [3, 4]) == 5


def test_a_hole_after_the_head_is_left_to_faust():
    assert new_offset(pending_at(11), 10, [10, 12]) == 11


def test_pending_offsets_below_the_commit_are_forgotten():
    pending = pending_at(3, 4, 20)
    assert not pending.holds(TP, 10, 12)
    assert pending.count() == 1  # 20 is still in flight
    assert pending.holds(TP, 10, 25)


def test_other_partitions_do_not_hold_this_one():
    pending = Pending()
    pending.received(("ordercast.notify.email", 1), 10)
    assert new_offset(pending, 10, [11, 12]) == 13
