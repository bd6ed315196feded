"""The librdkafka changelog writer serializes records exactly as faust does,
so faust's own recovery reads them back."""

from __future__ import annotations

import asyncio

import pytest

from streams.changelog import ChangelogFlushFailed, ChangelogWriter, _key_bytes, _value_bytes
from streams.risk_agent import risk_state


@pytest.mark.parametrize("key", ["failures_per_ip:198.18.0.1",
                                 "failures_per_email:é\"x@example.com"])
def test_keys_match_faust(key):
    topic = risk_state.changelog_topic
    assert _key_bytes(risk_state, key) == topic.prepare_key(key, risk_state.key_serializer)[0]


@pytest.mark.parametrize("value", [
    {"step": 600000, "start": 1, "windows": [["e1", "e2"], 5, None], "_p": 3},
    {"merchants": ["m-ü"], "orders": [], "newest": -(1 << 62)},
])
def test_values_match_faust(value):
    topic = risk_state.changelog_topic
    ours = _value_bytes(risk_state, value, risk_state.value_serializer)
    theirs = topic.prepare_value(value, risk_state.value_serializer)[0]
    assert risk_state.changelog_topic.app.serializers.loads_value(
        None, ours, serializer="json") == value
    assert ours.replace(b" ", b"") == theirs.replace(b" ", b"")


def test_tombstone_is_empty():
    assert _value_bytes(risk_state, None, "raw") is None


class _Table:
    def __init__(self, name: str) -> None:
        self.name, self.data, self.value_serializer = name, {}, "json"


def _writer(produced: list) -> ChangelogWriter:
    writer = ChangelogWriter(app=None, bootstrap="unused:9")
    writer._produce = lambda table, partition, key, value, serializer: produced.append(
        (table.name, key, value))
    return writer


def test_held_records_wait_for_the_acknowledgements_and_keep_their_order():
    async def main():
        produced: list = []
        writer, table, other = _writer(produced), _Table("state"), _Table("other")
        loop = asyncio.get_running_loop()
        alert, email = loop.create_future(), loop.create_future()
        writer.put(table, 0, "k1", {"n": 1})
        writer.hold(table, [alert, email])
        writer.put(table, 0, "k2", {"n": 5})
        writer.put(other, 1, "x", {"n": 0})  # another table is not held
        later = loop.create_future()
        writer.hold(table, [later])
        writer.drop(table, 0, "k2")
        assert table.data == {"k1": {"n": 1}}, "local values change at once"
        assert produced == [("state", "k1", {"n": 1}), ("other", "x", {"n": 0})]
        later.set_result(None)  # acknowledged, but behind the first hold
        alert.set_result(None)
        await asyncio.sleep(0)
        assert len(produced) == 2, "the email is not acknowledged yet"
        email.set_result(None)
        await asyncio.sleep(0)
        assert produced[2:] == [("state", "k2", {"n": 5}), ("state", "k2", None)]

    asyncio.run(main())


def test_a_failed_acknowledgement_keeps_the_records_and_fails_the_flush():
    async def main():
        produced: list = []
        writer, table = _writer(produced), _Table("state")
        writer._producer = object()  # as if started: flush checks what is held
        alert = asyncio.get_running_loop().create_future()
        writer.hold(table, [alert])
        writer.put(table, 0, "k", {"n": 5})
        alert.set_exception(ChangelogFlushFailed("alert not acknowledged"))
        with pytest.raises(ChangelogFlushFailed):
            await writer.flush(timeout=1)
        assert produced == []

    asyncio.run(main())


def test_a_flush_waits_for_what_was_held_when_it_began():
    async def main():
        produced: list = []
        writer, table = _writer(produced), _Table("state")
        writer._producer = object()
        loop = asyncio.get_running_loop()
        alert, later = loop.create_future(), loop.create_future()
        writer.hold(table, [alert])
        writer.put(table, 0, "k", {"n": 5})
        flushing = asyncio.ensure_future(writer.flush(timeout=5))
        await asyncio.sleep(0)
        writer.hold(table, [later])  # a later batch's alert, not acknowledged yet
        writer.put(table, 0, "k", {"n": 6})
        assert not flushing.done()
        alert.set_result(None)
        await flushing
        assert produced == [("state", "k", {"n": 5})]

    asyncio.run(main())
