"""Dead-letter tools without a broker: parsing what operators type, reading dead
letters, masking, and where a replay goes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from schemas.codec import REGISTRY
from streams import cli_dlq, deadletter, dlq
from streams.catalog import CHANNELS, channel_topic, dead_letter_topic, retry_topic
from streams.cli_dlq import dlq_cli
from streams.routing.request import Route, build_request

NOW = 1_714_566_600_000  # 2024-05-01 12:30:00 UTC
P = "pfx."
PARTS = {f"{P}{channel_topic(ch)}": 8 for ch in CHANNELS} | {f"{P}orders.created": 8}


def request(channel: str = "email", address: str = "buyer@mail.example", **over) -> dict:
    req = build_request(
        event_id="ev-1", event_type="payment_succeeded", occurred_at=NOW, merchant_id="m-1",
        order_id="202405010001", template="payment_succeeded", category="transaction",
        priority="urgent", route=Route(channel, address), recipient_id="b-1", role="buyer",
        locale="en-US", timezone="UTC", variables={"order_no": "202405010001"})
    return {**req, **over}


def dead_letter_message(req: dict | None = None, *, payload: bytes | None = None,
                        origin_topic: str = f"{P}ordercast.notify.email", partition: int = 3,
                        offset: int = 17, error_class: str = "MessageRejected",
                        error_message: str = "Email address is not verified: a***@x.example",
                        channel: str = "email", attempts: int = 1, now: int = NOW,
                        key: bytes = b"202405010001") -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) exactly as the workers build them."""
    nid = None
    if payload is None:
        req = req or request(channel)
        payload, nid = REGISTRY.encode("notification_request", req), req["notification_id"]
    return deadletter.build(
        deadletter.Origin(origin_topic, partition, offset, key), payload, error_class,
        error_message, attempts=attempts, channel=channel, notification_id=nid, now_ms=now)


def view(channel: str = "email", **kw) -> dlq.DeadLetterView:
    value, headers = dead_letter_message(channel=channel, **kw)
    topic = P + (dlq.EVENTS_DLT if channel == "ingest" else dead_letter_topic(channel))
    return dlq.view_of(topic, 5, 42, channel, b"202405010001", value, headers)


# -- times, filters, coordinates --------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("30m", NOW - 30 * 60_000),
    ("2h", NOW - 2 * 3_600_000),
    ("1d", NOW - 86_400_000),
    ("45s", NOW - 45_000),
    ("1w", NOW - 7 * 86_400_000),
    (" 2H ", NOW - 2 * 3_600_000),
    ("2024-05-01T12:00:00Z", NOW - 30 * 60_000),
    ("2024-05-01T12:00", NOW - 30 * 60_000),  # no zone: UTC
    ("2024-05-01T20:00+08:00", NOW - 30 * 60_000),
    ("2024-05-01", NOW - 12 * 3_600_000 - 30 * 60_000),
])
def test_times_are_iso_or_relative(text, expected):
    assert dlq.parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "", "30", "-2h", "2 hours", "2024-13-01",
                                  "99999999999d"])
def test_bad_times_are_bad_arguments(text):
    with pytest.raises(dlq.BadArgument, match="bad time"):
        dlq.parse_time(text, NOW)


def test_filters_parse_and_normalise():
    f = dlq.parse_filters(["Email", "ingest", "email"], ["MessageRejected", " "], "2h", "30m",
                          10, now=NOW)
    assert f == dlq.Filters(("email", "ingest"), ("MessageRejected",),
                            NOW - 2 * 3_600_000, NOW - 30 * 60_000, 10)
    assert f.topics() == [dead_letter_topic("email"), dlq.EVENTS_DLT]
    assert dlq.parse_filters(now=NOW).topics() == [
        *(dead_letter_topic(ch) for ch in CHANNELS), dlq.EVENTS_DLT]


@pytest.mark.parametrize("kwargs, message", [
    ({"channels": ["fax"]}, "unknown channel 'fax'"),
    ({"limit": 0}, "--limit must be at least 1"),
    ({"since": "1h", "until": "2h"}, "is not before --until"),
    ({"until": "soon"}, "bad time 'soon'"),
])
def test_bad_filters_say_why(kwargs, message):
    with pytest.raises(dlq.BadArgument, match=message):
        dlq.parse_filters(now=NOW, **kwargs)


@pytest.mark.parametrize("filters, matches", [
    (dlq.Filters(), True),
    (dlq.Filters(channels=("email",)), True),
    (dlq.Filters(channels=("sms", "ingest")), False),
    (dlq.Filters(error_classes=("MessageRejected", "Throttled")), True),
    (dlq.Filters(error_classes=("Throttled",)), False),
    (dlq.Filters(since_ms=NOW), True),  # since is inclusive
    (dlq.Filters(since_ms=NOW + 1), False),
    (dlq.Filters(until_ms=NOW), False),  # until is exclusive
    (dlq.Filters(until_ms=NOW + 1), True),
])
def test_filters_match_channel_error_class_and_last_failure(filters, matches):
    assert filters.matches(view(now=NOW)) is matches


@pytest.mark.parametrize("text, expected", [
    ("pfx.ordercast.notify.email.dlt:3:17", ("pfx.ordercast.notify.email.dlt", 3, 17)),
    ("ordercast.notify.sms.dlt:0:0", ("pfx.ordercast.notify.sms.dlt", 0, 0)),  # prefix added
    ("pfx.ordercast.events.dlt[7]@12345", ("pfx.ordercast.events.dlt", 7, 12345)),
    (" ordercast.notify.webhook.dlt[1]@2 ", ("pfx.ordercast.notify.webhook.dlt", 1, 2)),
])
def test_coordinates_in_both_printed_forms(text, expected):
    assert dlq.parse_coordinates(text, P) == dlq.Coordinates(*expected)


@pytest.mark.parametrize("text, message", [
    ("ordercast.notify.email.dlt:3", "bad coordinates"),
    ("ordercast.notify.email.dlt:a:1", "bad coordinates"),
    ("ordercast.notify.email.dlt:-1:1", "not negative"),
    ("ordercast.notify.email:3:17", "is not a dead-letter topic"),
    ("other.ordercast.notify.email.dlt:3:17", "is not a dead-letter topic"),
])
def test_bad_coordinates_say_why(text, message):
    with pytest.raises(dlq.BadArgument, match=message):
        dlq.parse_coordinates(text, P)


def test_notification_ids_are_not_taken_for_coordinates():
    assert not dlq.looks_like_coordinates(request()["notification_id"])
    assert dlq.looks_like_coordinates("x:1:2") and dlq.looks_like_coordinates("x[1]@2")


# -- reading and showing dead letters ---------------------------------------------------

def test_a_dead_letter_reads_back_from_its_record():
    req = request()
    v = view(req=req, attempts=4, origin_topic=f"{P}{retry_topic('email', 3)}")
    assert (v.channel, v.where, v.origin) == (
        "email", f"{P}ordercast.notify.email.dlt[5]@42",
        f"{P}ordercast.notify.email.retry-3[3]@17")
    assert v.payload == REGISTRY.encode("notification_request", req)
    assert (v.error_class, v.attempts, v.last_failure_at) == ("MessageRejected", 4, NOW)
    assert v.notification_id == req["notification_id"] and v.original_key == b"202405010001"


def test_a_dead_letter_whose_value_does_not_decode_reads_from_headers_without_payload():
    _, headers = dead_letter_message()
    v = dlq.view_of("t", 0, 1, "email", b"k", b"garbage", headers)
    assert v.payload is None
    assert (v.error_class, v.attempts, v.last_failure_at, v.original_offset) == (
        "MessageRejected", 1, NOW, 17)
    with pytest.raises(dlq.NotReplayable, match="does not decode"):
        dlq.plan_one(v, P, PARTS)


def test_pii_in_error_messages_is_masked_even_if_a_producer_forgot():
    v = view(error_message="rejected buyer@mail.example and +8613812345678")
    assert "buyer@mail.example" not in v.error_message
    assert "+8613812345678" not in v.error_message
    assert "b***@mail.example" in v.error_message


@pytest.mark.parametrize("payload, expected", [
    (None, "(unknown: the dead letter itself does not decode)"),
    (b"", "(empty)"),
    (b"not avro at all, buyer@mail.example",
     "undecodable (NotSingleObject), 35 bytes: 6e6f74206176726f20617420616c6c2c…"),
    (b"\xc3\x01" + b"\x00" * 8, "undecodable (UnknownSchema), 10 bytes: c3010000000000000000"),
])
def test_payload_summary_never_shows_contents(payload, expected):
    assert cli_dlq.summarise_payload(payload) == expected


def test_payload_summary_of_a_request_names_id_template_and_channel_only():
    req = request("sms", "+8613812345678")
    text = cli_dlq.summarise_payload(REGISTRY.encode("notification_request", req))
    assert text == (f"notification_request id={req['notification_id']} "
                    "template=payment_succeeded channel=sms")


def test_payload_summary_of_a_lifecycle_event_names_schema_and_event_id():
    from tests.routing.factories import event

    text = cli_dlq.summarise_payload(REGISTRY.encode("order_created", event("order_created")))
    assert text == "order_created event_id=ev-1"


def test_table_row_columns_and_truncation():
    v = view(error_message="x" * 100)
    row = cli_dlq.table_row(v, P)
    assert len(row) == len(cli_dlq.TABLE_COLUMNS)
    assert row[:4] == ["email", "ordercast.notify.email.dlt[5]@42",
                       "ordercast.notify.email[3]@17", "MessageRejected"]
    assert cli_dlq.table_row(v)[1:3] == [v.where, v.origin]
    assert row[4] == "x" * (cli_dlq.MESSAGE_MAX - 1) + "…"
    assert row[5:] == ["1", "2024-05-01 12:30:00", v.notification_id, "-"]
    marked = replace(v, replayed=dlq.Marker(str(v.coordinates), replayed_at=NOW + 1000))
    assert cli_dlq.table_row(marked)[-1] == "2024-05-01 12:30:01"


def test_show_lists_every_header_and_masks_pii_and_order_ids():
    value, headers = dead_letter_message(error_message="bounced buyer@mail.example")
    headers.append(("trace", b"call +8613812345678"))
    v = dlq.view_of(f"{P}ordercast.notify.email.dlt", 5, 42, "email", b"202405010001",
                    value, headers)
    lines = dict(cli_dlq.describe(v))
    text = "\n".join(f"{k} {t}" for k, t in lines.items())
    for name, _ in headers:
        assert f"header {name}" in lines
    assert lines["header ordercast.dlt.last-failure-at"] == str(NOW)  # digits left alone
    assert lines["header ordercast.dlt.notification-id"] == v.notification_id
    assert "buyer@mail.example" not in text and "8613812345678" not in text
    assert "202405010001" not in text
    assert lines["original key"] == "2024… (12 bytes)"
    assert lines["payload"].startswith("notification_request id=")
    assert lines["replayed"] == "no"


# -- where a replay goes ----------------------------------------------------------------

def test_channel_letters_go_back_to_the_channel_topic_not_the_retry_topic():
    v = view(origin_topic=f"{P}{retry_topic('email', 2)}", partition=3)
    planned = dlq.plan_one(v, P, PARTS)
    assert (planned.topic, planned.partition) == (f"{P}ordercast.notify.email", 3)
    key, value, headers = planned.message()
    assert key == b"202405010001" and value == v.payload
    assert headers == [(dlq.REPLAY_HEADER, f"{P}ordercast.notify.email.dlt:5:42".encode())]


def test_ingest_letters_go_back_to_their_lifecycle_topic():
    v = view("ingest", payload=b"\xc3\x01broken", origin_topic=f"{P}orders.created",
             partition=6)
    planned = dlq.plan_one(v, P, PARTS)
    assert (planned.topic, planned.partition) == (f"{P}orders.created", 6)


@pytest.mark.parametrize("kw, reason", [
    ({"channel": "ingest", "payload": b"x", "origin_topic": "elsewhere"},
     "not a lifecycle topic"),
    ({"channel": "ingest", "payload": b"x", "origin_topic": "orders.created"},
     "not a lifecycle topic"),  # another prefix's topic
    ({"payload": b""}, "had no payload"),
    ({"payload": b"x" * deadletter.MAX_PAYLOAD + b"y"}, "truncated"),
])
def test_letters_that_cannot_be_replayed_say_why(kw, reason):
    with pytest.raises(dlq.NotReplayable, match=reason):
        dlq.plan_one(view(**kw), P, PARTS)


def test_an_unknown_original_partition_lets_the_key_choose():
    assert dlq.plan_one(view(partition=-1), P, PARTS).partition is None
    assert dlq.plan_one(view(partition=8), P, PARTS).partition is None


def test_a_missing_target_topic_is_not_replayable():
    with pytest.raises(dlq.NotReplayable, match="does not exist"):
        dlq.plan_one(view(), "other.", PARTS)


def test_markers_round_trip_and_survive_an_unreadable_value():
    m = dlq.Marker("t:1:2", "target", 3, 4, NOW, "ops", "nid-1")
    assert dlq.Marker.decode(b"t:1:2", m.encode()) == m
    assert dlq.Marker.decode(b"t:1:2", b"junk") == dlq.Marker("t:1:2")


def test_the_marker_topic_outlives_the_dead_letters():
    assert dlq.REPLAYED_SPEC.retention_ms >= max(
        dlq.BY_NAME[t].retention_ms for t in dlq.SOURCES)


# -- command line errors ----------------------------------------------------------------

@pytest.mark.parametrize("args, code, line", [
    (["list", "--since", "yesterday"], 2, "ordercast: bad time 'yesterday'"),
    (["list", "--channel", "fax"], 2, "ordercast: unknown channel 'fax'"),
    (["replay", "--until", "1d", "--since", "1h"], 2, "ordercast: --since 1h is not before"),
    (["show", "ordercast.notify.email.dlt:x:1"], 2, "ordercast: bad coordinates"),
    (["show", "ordercast.notify.fax.dlt:1:1"], 2, "ordercast: 'ordercast.notify.fax.dlt' is not"),
    (["replay"], 2, "ordercast: stdin is not a terminal: pass --yes"),
])
def test_bad_arguments_print_one_line(args, code, line):
    result = CliRunner().invoke(dlq_cli, args)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), result.stderr
    assert "Traceback" not in result.output
