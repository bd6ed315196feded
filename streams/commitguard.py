"""Never commit past a record an agent has not acknowledged.

faust commits, per partition, the run of acknowledged offsets that starts at
its committed offset, but its check for a hole at the head of that run is off
by one (``min(acked) - committed > 1``) and skipped while nothing is committed
yet. With concurrent agents that is an everyday case, not a corner: offsets 11
and 12 done while 10 is still at the provider commits 13, and so does the
first commit after a start with 0 and 1 still in flight. A crash then loses
those records for good. The slack is not there for nothing: after a seek faust
counts its read offset one further than elsewhere, so an offset missing right
after it (compaction) never becomes a known gap, and a strict check would hold
such a partition's commits forever.

So the guard asks a different question: is a record that reached faust's
conductor, and is not acknowledged, sitting between the committed offset and
the first acknowledged one? Then the commit waits. Offsets that were never
fetched (compacted, transaction markers) are never pending, so they hold
nothing; a record lost on its way to the agents holds the commit until the
stall watchdog fetches it again (streams.watchdog).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import wraps
from typing import Any

from faust.transport.consumer import Consumer


class Pending:
    """Per partition, the offsets handed to faust's conductor and not acknowledged."""

    def __init__(self) -> None:
        self._offsets: defaultdict[Any, set[int]] = defaultdict(set)

    def received(self, tp: Any, offset: int) -> None:
        self._offsets[tp].add(offset)

    def acked(self, tp: Any, offset: int) -> None:
        offsets = self._offsets.get(tp)
        if offsets is not None:
            offsets.discard(offset)

    def holds(self, tp: Any, committed: int | None, first_acked: int) -> bool:
        """True if a pending record lies at or after ``committed`` and before
        ``first_acked``: committing the acknowledged run would skip it."""
        offsets = self._offsets.get(tp)
        if not offsets:
            return False
        if committed is not None:  # below the commit: redone or superseded, forget them
            stale = [o for o in tuple(offsets) if o < committed]
            offsets.difference_update(stale)
        return any(o < first_acked for o in tuple(offsets))

    def count(self) -> int:
        return sum(len(v) for v in tuple(self._offsets.values()))


PENDING = Pending()


def install(app: Any, pending: Pending = PENDING) -> None:
    """Record what the consumer hands to the conductor (wrap it before the
    consumer is built), drop it on acknowledgement, and hold commits for it."""
    deliver = app.topics.on_message
    acks_enabled_for = app.topics.acks_enabled_for

    async def on_message(message: Any) -> None:
        if acks_enabled_for(message.topic):
            pending.received(message.tp, message.offset)
        await deliver(message)

    app.topics.on_message = on_message
    _wrap_consumer(pending)


def _wrap_consumer(pending: Pending) -> None:
    ack, new_offset = Consumer.ack, Consumer._new_offset
    if getattr(ack, "ordercast_guard", None) is pending:
        return  # already installed (the app module imported twice)
    ack = getattr(ack, "__wrapped__", ack)
    new_offset = getattr(new_offset, "__wrapped__", new_offset)
    Consumer.ack = _acking(ack, pending)
    Consumer._new_offset = _guarded(new_offset, pending)


def _acking(ack: Callable[..., bool], pending: Pending) -> Callable[..., bool]:
    @wraps(ack)
    def guarded_ack(self: Any, message: Any) -> bool:
        try:
            return ack(self, message)
        finally:
            pending.acked(message.tp, message.offset)

    guarded_ack.ordercast_guard = pending  # type: ignore[attr-defined]
    return guarded_ack


def _guarded(new_offset: Callable[..., int | None], pending: Pending
             ) -> Callable[..., int | None]:
    @wraps(new_offset)
    def guarded_new_offset(self: Any, tp: Any) -> int | None:
        acked = self._acked[tp]
        if acked and pending.holds(tp, self._committed_offset[tp], min(acked)):
            return None  # as faust's own answer for "nothing to commit yet"
        return new_offset(self, tp)

    return guarded_new_offset
