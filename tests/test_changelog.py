"""The librdkafka changelog writer serializes records exactly as faust does,
so faust's own recovery reads them back."""

from __future__ import annotations

import pytest

from streams.changelog import _key_bytes, _value_bytes
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
