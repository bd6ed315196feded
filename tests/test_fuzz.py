"""Property-based tests of the wire format and the publisher's line parser.

Whatever bytes arrive on a topic, decoding either yields a record or raises a
DecodeError (which the router turns into a dead letter); anything else would
crash an agent. Whatever text a platform team pipes into `ordercast publish`,
every bad line is reported with its number and the rest still goes out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.codec import HEADER_LEN, MARKER, REGISTRY
from schemas.exceptions import DecodeError
from streams.publish import Prepared, Rejected, parse_lines, prepare
from streams.sample import sample_events

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
PER_SCHEMA = settings(FUZZ, max_examples=40)  # x one test per schema
SAMPLES = sample_events(40, seed=7)  # every lifecycle type once n >= 20
VALID = [REGISTRY.encode(t, d) for t, d in SAMPLES]
LIFECYCLE_TYPES = sorted({t for t, _ in SAMPLES})


def _decode_or_decode_error(data: bytes, expect: str | None = None) -> None:
    try:
        record = REGISTRY.decode(data, expect=expect)
    except DecodeError:
        return
    assert record.schema in REGISTRY.names


# -- decode never raises anything but DecodeError ------------------------------

@FUZZ
@given(st.binary(max_size=2048))
@example(b"")
@example(MARKER)
@example(MARKER + b"\x00" * 8)
@example(VALID[0][:HEADER_LEN])
@example(VALID[0][:HEADER_LEN] + b"\xff" * 64)  # a varint that never ends
def test_decode_of_arbitrary_bytes_raises_only_decode_errors(data):
    _decode_or_decode_error(data)


@FUZZ
@given(st.binary(max_size=512))
def test_decode_of_marked_garbage_raises_only_decode_errors(body):
    """Garbage behind a known fingerprint reaches the Avro body parser."""
    for valid in VALID[:3]:
        _decode_or_decode_error(valid[:HEADER_LEN] + body, expect=None)


@pytest.mark.parametrize("tail", [b"\x00", b"\xff" * 16, b"\x00" * 900 * 1024])
def test_decode_rejects_bytes_after_the_record(tail):
    with pytest.raises(DecodeError):
        REGISTRY.decode(VALID[0] + tail)


def _mutations():
    flip = st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255))
    cut = st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0))
    insert = st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255))
    delete = st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0))
    return st.lists(st.one_of(flip, cut, insert, delete), min_size=1, max_size=6)


def _mutate(data: bytes, steps) -> bytes:
    buf = bytearray(data)
    for kind, at, value in steps:
        at = at % (len(buf) + 1)
        if kind == "flip" and at < len(buf):
            buf[at] ^= value
        elif kind == "cut":
            del buf[at:]
        elif kind == "insert":
            buf.insert(at, value)
        elif kind == "delete" and at < len(buf):
            del buf[at]
    return bytes(buf)


@FUZZ
@given(st.sampled_from(VALID), _mutations(), st.sampled_from([None, *LIFECYCLE_TYPES]))
def test_decode_of_mutated_valid_encodings_raises_only_decode_errors(valid, steps, expect):
    _decode_or_decode_error(_mutate(valid, steps), expect)


# -- the publisher's line parser ----------------------------------------------

def _lines():
    good = st.sampled_from([json.dumps({"type": t, "data": d}) for t, d in SAMPLES])
    json_ish = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                     max_size=4),
        max_leaves=12).map(json.dumps)
    typed = st.fixed_dictionaries({"type": st.sampled_from([*LIFECYCLE_TYPES, "nope", ""]),
                                   "data": st.dictionaries(st.text(max_size=8), st.integers(),
                                                           max_size=3)}).map(json.dumps)
    return st.lists(st.one_of(st.text(max_size=200), good, json_ish, typed), max_size=25)


def _check_report(lines: list[str]) -> None:
    results = list(parse_lines(lines))  # never raises
    numbers = [n for n, _ in results]
    wanted = [i for i, line in enumerate(lines, start=1) if line.strip()]
    assert numbers == wanted  # one result per non-blank line, in order
    for number, item in results:
        assert isinstance(item, Prepared | Rejected)
        if isinstance(item, Rejected):
            assert item.line == number and item.reason


@FUZZ
@given(_lines())
def test_parse_lines_reports_every_bad_line_with_its_number(lines):
    _check_report(lines)


@pytest.mark.parametrize("line", ["[" * 100_000,
                                  '{"type": "refund", "data": ' + "[" * 100_000])
def test_parse_lines_reports_deeply_nested_json(line):
    _check_report(['{"type": "nope", "data": {}}', line])


# -- valid generated events round-trip -----------------------------------------

PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=40),
    "string": st.text(max_size=40),
}


def avro_values(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """A strategy for values valid under a parsed (fastavro) Avro schema."""
    named = {} if named is None else named
    if isinstance(schema, str):
        return PRIMITIVES[schema] if schema in PRIMITIVES else avro_values(named[schema], named)
    if isinstance(schema, list):  # union
        return st.one_of([avro_values(branch, named) for branch in schema])
    kind = schema["type"]
    if "name" in schema and kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: avro_values(f["type"], named)
                                      for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(avro_values(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), avro_values(schema["values"], named),
                               max_size=3)
    return avro_values(kind, named)  # {"type": "long"} and friends


def _records(name: str) -> st.SearchStrategy[dict]:
    return avro_values(REGISTRY.schema(name))


@PER_SCHEMA
@given(st.data())
@pytest.mark.parametrize("name", REGISTRY.names)
def test_valid_generated_records_round_trip(name, data):
    record = data.draw(_records(name))
    decoded = REGISTRY.decode(REGISTRY.encode(name, record), expect=name)
    assert decoded.schema == name
    assert decoded == record


@PER_SCHEMA
@given(st.data())
@pytest.mark.parametrize("event_type", LIFECYCLE_TYPES)
def test_generated_events_publish_and_decode_unchanged(event_type, data):
    event = data.draw(_records(event_type))
    prepared = prepare(event_type, event)
    assert prepared.event_type == event_type
    assert REGISTRY.decode(prepared.value, expect=event_type) == event
