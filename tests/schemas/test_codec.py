"""The wire format: Avro single-object encoding, errors, schema evolution."""

from __future__ import annotations

import copy

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.codec import MARKER, REGISTRY, Registry, build_registry
from schemas.exceptions import (
    EncodeError,
    MalformedBody,
    NotSingleObject,
    UnexpectedSchema,
    UnknownSchema,
)
from streams.sample import sample_events

EVENTS = sample_events(40, seed=7, start_ms=1_700_000_000_000)


def test_crc64_avro_matches_spec_vector():
    # The Avro spec's example: "int" has fingerprint 8F 5C 39 3F 1A D5 75 72.
    assert fingerprint('"int"', "CRC-64-AVRO") == "8f5c393f1ad57572"


@pytest.mark.parametrize("event_type,data", EVENTS[:20])
def test_round_trip_every_event(event_type, data):
    wire = REGISTRY.encode(event_type, data)
    assert wire[:2] == MARKER
    assert wire[2:10] == REGISTRY.fingerprint(event_type)
    back = REGISTRY.decode(wire, expect=event_type)
    assert back.schema == event_type
    assert back == data


def test_every_lifecycle_type_is_covered_by_the_sample():
    from streams.catalog import LIFECYCLE

    assert {t for t, _ in EVENTS} == {spec.schema for spec in LIFECYCLE}


def test_fingerprint_is_of_the_writer_schema_canonical_form():
    parsed = REGISTRY.schema("refund")
    expected = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    assert REGISTRY.fingerprint("refund") == expected


@pytest.mark.parametrize("wire,error", [
    (b"", NotSingleObject),
    (b"garbage bytes that are not avro", NotSingleObject),
    (MARKER + b"\x00" * 8 + b"\x02", UnknownSchema),
])
def test_bad_bytes_raise_typed_errors(wire, error):
    with pytest.raises(error):
        REGISTRY.decode(wire)


def test_truncated_body_is_malformed():
    wire = REGISTRY.encode(*EVENTS[0])
    with pytest.raises(MalformedBody):
        REGISTRY.decode(wire[:14])


def test_record_of_another_type_is_unexpected():
    event_type, data = next(e for e in EVENTS if e[0] == "marketing")
    with pytest.raises(UnexpectedSchema, match="expected refund"):
        REGISTRY.decode(REGISTRY.encode(event_type, data), expect="refund")


def test_validation_names_the_field():
    event_type, data = next(e for e in EVENTS if e[0] == "payment_failed")
    broken = copy.deepcopy(data)
    del broken["failure_code"]
    with pytest.raises(EncodeError, match="failure_code"):
        REGISTRY.encode(event_type, broken)
    broken = copy.deepcopy(data)
    broken["envelope"]["amount_minor"] = "12.50"
    with pytest.raises(EncodeError, match="amount_minor"):
        REGISTRY.encode(event_type, broken)


def _v2(schema_name: str) -> dict:
    """The next version of a schema: one new optional field."""
    v2 = copy.deepcopy(REGISTRY.schema(schema_name))
    v2["fields"].append({"name": "risk_score", "type": ["null", "double"], "default": None})
    return v2


def test_v1_reader_reads_v2_data():
    v1_code = build_registry()
    v2_code = build_registry()
    v2_code.add("payment_failed", _v2("payment_failed"))
    v1_code.add("payment_failed", _v2("payment_failed"), current=False)  # known writer
    _, data = next(e for e in EVENTS if e[0] == "payment_failed")
    wire = v2_code.encode("payment_failed", {**data, "risk_score": 0.93})
    assert wire[2:10] != v1_code.fingerprint("payment_failed")
    back = v1_code.decode(wire, expect="payment_failed")
    assert "risk_score" not in back
    assert back == data


def test_v2_reader_reads_v1_data():
    v1_code = build_registry()
    v2_code = Registry()
    v2_code.add("payment_failed", REGISTRY.schema("payment_failed"), current=False)
    v2_code.add("payment_failed", _v2("payment_failed"))
    _, data = next(e for e in EVENTS if e[0] == "payment_failed")
    back = v2_code.decode(v1_code.encode("payment_failed", data))
    assert back["risk_score"] is None
    assert {k: v for k, v in back.items() if k != "risk_score"} == data
