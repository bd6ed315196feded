"""Stalled-partition detection (pure): a partition behind its log end while the
whole worker consumes nothing. A busy worker is never called stuck."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.consumer.subscription_state import PartitionStatus
from faust.types import TP

from streams.watchdog import Progress, _positions

A, B = TP("p.orders.created", 0), TP("p.orders.created", 1)


def test_behind_with_nothing_consumed_for_the_stall_time_is_stalled():
    p = Progress()
    assert p.stalled({A: 10, B: 7}, {A: 50, B: 7}, now=0.0, stall_s=20) == []
    assert p.stalled({A: 10, B: 7}, {A: 60, B: 7}, now=19.0, stall_s=20) == []
    assert p.stalled({A: 10, B: 7}, {A: 70, B: 7}, now=20.0, stall_s=20) == [A]


def test_a_busy_worker_is_never_stalled():
    # A is stuck, but B keeps moving (a backlog, a full buffer, slow commits):
    # nothing is reported while anything is consumed
    p = Progress()
    for step in range(12):
        now = step * 5.0
        assert p.stalled({A: 10, B: 100 + step}, {A: 50, B: 500}, now=now, stall_s=20) == []
    # once B drains and stops, A is found stall_s later
    assert p.stalled({A: 10, B: 500}, {A: 50, B: 500}, now=60.0, stall_s=20) == []
    assert p.stalled({A: 10, B: 500}, {A: 50, B: 500}, now=79.0, stall_s=20) == []
    assert p.stalled({A: 10, B: 500}, {A: 50, B: 500}, now=80.0, stall_s=20) == [A]


def test_new_data_on_an_idle_worker_gets_the_stall_time_first():
    p = Progress()
    p.stalled({A: 50}, {A: 50}, now=0.0, stall_s=20)
    assert p.stalled({A: 50}, {A: 50}, now=100.0, stall_s=20) == []  # caught up
    assert p.stalled({A: 50}, {A: 51}, now=105.0, stall_s=20) == []  # just arrived
    assert p.stalled({A: 50}, {A: 51}, now=124.0, stall_s=20) == []
    assert p.stalled({A: 50}, {A: 51}, now=125.0, stall_s=20) == [A]


def test_caught_up_or_unknown_is_never_stalled():
    p = Progress()
    for now in (0.0, 30.0, 60.0):
        # A at its log end (a retry agent waiting for a due time); B's end unknown
        assert p.stalled({A: 50, B: 10}, {A: 50}, now=now, stall_s=20) == []


def test_restart_gives_a_fresh_stall_time():
    p = Progress()
    p.stalled({A: 1}, {A: 9}, now=0.0, stall_s=20)
    assert p.stalled({A: 1}, {A: 9}, now=20.0, stall_s=20) == [A]
    p.restart(now=20.0)
    assert p.stalled({A: 1}, {A: 9}, now=39.0, stall_s=20) == []
    assert p.stalled({A: 1}, {A: 9}, now=40.0, stall_s=20) == [A]


# -- records read but never acknowledged --------------------------------------------


def _lost(p: Progress, committed, positions, log_end, now, in_streams=frozenset()):
    p.stalled(positions, log_end, now=now, stall_s=20)
    return p.unacknowledged(committed, positions, log_end, set(in_streams), now=now, stall_s=20)


def test_read_to_the_end_but_committed_behind_for_the_stall_time_is_lost():
    p = Progress()
    assert _lost(p, {A: 40}, {A: 50}, {A: 50}, now=0.0) == []
    assert _lost(p, {A: 40}, {A: 50}, {A: 50}, now=19.0) == []
    assert _lost(p, {A: 40}, {A: 50}, {A: 50}, now=20.0) == [A]


def test_a_record_in_a_stream_is_work_not_loss():
    # a retry waiting for its due time holds its commit back, and is in a stream;
    # B's records may wait in the channel queue behind it
    p = Progress()
    for now in (0.0, 20.0, 40.0):
        assert _lost(p, {A: 40, B: 5}, {A: 50, B: 9}, {A: 50, B: 9}, now=now,
                     in_streams={A}) == []
    # idle from 40 s on: the clock starts there
    assert _lost(p, {A: 40, B: 5}, {A: 50, B: 9}, {A: 50, B: 9}, now=45.0) == []
    assert _lost(p, {A: 40, B: 5}, {A: 50, B: 9}, {A: 50, B: 9}, now=65.0) == [A, B]


def test_a_moving_commit_or_a_moving_worker_is_never_lost():
    p = Progress()
    for step in range(10):  # commits advance: slow, not lost
        assert _lost(p, {A: 10 + step}, {A: 50}, {A: 50}, now=step * 5.0) == []
    p = Progress()
    for step in range(10):  # B keeps being consumed: the worker is busy
        assert _lost(p, {A: 40, B: 0}, {A: 50, B: step}, {A: 50, B: 99}, now=step * 5.0) == []


def test_caught_up_commits_and_unknown_ends_are_never_lost():
    p = Progress()
    for now in (0.0, 30.0, 60.0):
        assert _lost(p, {A: 50, B: 3}, {A: 50, B: 9}, {A: 50}, now=now) == []


def _consumer(read: dict, committed: dict, fetch: dict):
    """The attributes _positions reads: faust's offsets and aiokafka's states."""
    states = {tp: SimpleNamespace(_status=PartitionStatus.CONSUMING, _position=pos,
                                  awaiting_reset=False, paused=False, _committed_futs=[])
              for tp, pos in fetch.items()}
    assignment = SimpleNamespace(state_value=states.get)
    aio = SimpleNamespace(_subscription=SimpleNamespace(
        subscription=SimpleNamespace(assignment=assignment)))
    return SimpleNamespace(_read_offset=read, _committed_offset=committed,
                           _thread=SimpleNamespace(_consumer=aio))


def test_position_is_faust_s_then_aiokafka_s_then_unknown():
    c = _consumer(read={A: 9}, committed={B: 4}, fetch={A: 30, B: 30})
    assert _positions(c, [A, B]) == {A: 10, B: 4}
    # a restarted worker with nothing new after the group's committed offset:
    # faust has read nothing, aiokafka sits at the log end, not at the earliest
    c = _consumer(read={}, committed={}, fetch={A: 49, B: None})
    assert _positions(c, [A, B]) == {A: 49, B: None}
