"""`ordercast dlq` on the real broker: list and show dead letters, replay them
once to where they came from."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from schemas.codec import REGISTRY
from streams import cli_dlq, dlq, settings, topics
from streams.aws import verify_senders
from streams.catalog import BY_NAME, channel_topic, dead_letter_topic, retry_topic
from streams.cli_dlq import dlq_cli
from tests.support import BOOTSTRAP, read_all, unique_prefix, wait_for
from tests.test_dlq import dead_letter_message, request

pytestmark = pytest.mark.broker

HOUR = 3_600_000


@pytest.fixture
def ns(prefix: str, monkeypatch) -> Iterator[str]:
    """The test's topic prefix, as the CLI's settings."""
    admin = topics.admin(BOOTSTRAP)
    wait_for(lambda: f"{prefix}{dlq.REPLAYED}" in admin.list_topics(timeout=10).topics, 30,
             message="the marker topic to be listed")
    with monkeypatch.context() as m:
        m.setenv("ORDERCAST_KAFKA_TOPIC_PREFIX", prefix)
        settings.kafka.cache_clear()
        yield prefix
    settings.kafka.cache_clear()


def _produce(topic: str, partition: int, items: list[tuple[bytes, list]], key: bytes) -> None:
    errors: list = []
    prod = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for value, headers in items:
        prod.produce(topic, value, key, partition=partition, headers=headers,
                     on_delivery=lambda err, _msg: err and errors.append(err))
    assert prod.flush(30) == 0 and not errors, errors


@pytest.fixture
def letters(ns: str) -> dict[str, dict]:
    """Five dead letters: three email (two MessageRejected, one from a retry topic),
    one sms, one undecodable lifecycle event. Returns the requests by name.
    (Test namespaces have two partitions.)"""
    now = dlq.now_ms()
    reqs = {
        "rejected_old": request(address="a1@mail.example", event_id="ev-1"),
        "throttled": request(address="a2@mail.example", event_id="ev-2"),
        "rejected_new": request(address="a3@mail.example", event_id="ev-3"),
        "sms": request("sms", "+8613812345678", event_id="ev-4"),
    }
    reqs = {k: {**r, "notification_id": f"nid-{k}"} for k, r in reqs.items()}
    email = f"{ns}{channel_topic('email')}"
    _produce(f"{ns}{dead_letter_topic('email')}", 1, [
        dead_letter_message(reqs["rejected_old"], origin_topic=email, partition=1,
                            key=b"order-4", now=now - 3 * HOUR),
        dead_letter_message(reqs["throttled"], origin_topic=email, partition=1,
                            error_class="Throttling", attempts=4, key=b"order-4", now=now - HOUR),
        dead_letter_message(reqs["rejected_new"], origin_topic=f"{ns}{retry_topic('email', 1)}",
                            partition=1, key=b"order-4", now=now - 10 * 60_000),
    ], key=b"order-4")
    _produce(f"{ns}{dead_letter_topic('sms')}", 0, [
        dead_letter_message(reqs["sms"], channel="sms", origin_topic=f"{ns}ordercast.notify.sms",
                            partition=0, error_class="InvalidParameter",
                            error_message="Invalid phone number +8613812345678",
                            key=b"order-1", now=now - 5 * 60_000),
    ], key=b"order-1")
    _produce(f"{ns}{dlq.EVENTS_DLT}", 1, [
        dead_letter_message(payload=b"\xc3\x01not avro", channel="ingest",
                            origin_topic=f"{ns}orders.created", partition=1,
                            error_class="UnknownSchema", error_message="unknown fingerprint",
                            key=b"order-6", now=now - 2 * 60_000),
    ], key=b"order-6")
    return reqs


def _headers(msg) -> dict[str, bytes]:
    return dict(msg.headers() or [])


def test_list_filters_by_channel_error_class_and_time(ns, letters):
    def nids(**kw) -> list[str | None]:
        views = dlq.list_dead_letters(dlq.parse_filters(**kw), prefix=ns)
        return [v.notification_id for v in views]

    assert nids() == ["nid-rejected_old", "nid-throttled", "nid-rejected_new", "nid-sms", None]
    assert nids(channels=["email"], error_classes=["MessageRejected"]) == [
        "nid-rejected_old", "nid-rejected_new"]
    assert nids(since="2h") == ["nid-throttled", "nid-rejected_new", "nid-sms", None]
    assert nids(since="2h", until="7m") == ["nid-throttled", "nid-rejected_new"]
    assert nids(channels=["ingest", "sms"], limit=1) == ["nid-sms"]


def test_list_prints_a_table_without_pii(ns, letters):
    result = CliRunner().invoke(dlq_cli, ["list", "--channel", "sms", "-c", "email",
                                          "--error-class", "InvalidParameter"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "nid-sms" in out and "nid-throttled" not in out
    assert " ordercast.notify.sms.dlt[0]@0 " in out and f"prefix '{ns}'" in out
    assert " ordercast.notify.sms[0]@17 " in out
    assert "+86138****5678" in out and "8613812345678" not in out
    assert "1 dead letters match" in out


def test_show_by_coordinates_and_by_notification_id(ns, letters):
    runner = CliRunner()
    by_coords = runner.invoke(dlq_cli, ["show", "ordercast.notify.sms.dlt:0:0"])
    assert by_coords.exit_code == 0, by_coords.output
    out = by_coords.stdout
    assert "header ordercast.dlt.error-class" in out and "InvalidParameter" in out
    assert "notification_request id=nid-sms template=payment_succeeded channel=sms" in out
    assert "8613812345678" not in out and "order-1" not in out
    by_id = runner.invoke(dlq_cli, ["show", "nid-throttled"])
    assert by_id.exit_code == 0, by_id.output
    assert f"{ns}ordercast.notify.email.dlt[1]@1" in by_id.stdout
    assert "Throttling" in by_id.stdout


@pytest.mark.parametrize("target, message", [
    ("ordercast.notify.sms.dlt:0:5", "no message at"),
    ("ordercast.notify.sms.dlt:9:0", "has no partition 9"),
    ("nid-nobody", "no dead letter with notification id 'nid-nobody'"),
])
def test_show_of_nothing_is_one_line(ns, letters, target, message):
    result = CliRunner().invoke(dlq_cli, ["show", target])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr


def test_dry_run_changes_nothing(ns, letters):
    report = dlq.replay(dlq.parse_filters(), dry_run=True, prefix=ns)
    assert report.dry_run and len(report.planned) == 5 and not report.replayed
    cli = CliRunner().invoke(dlq_cli, ["replay", "--dry-run"])
    assert cli.exit_code == 0, cli.output
    assert "dry run: 5 would be replayed, 0 skipped" in cli.stdout
    for t in ("email", "sms"):
        assert read_all(f"{ns}{channel_topic(t)}") == []
    assert read_all(f"{ns}orders.created") == []
    assert read_all(f"{ns}{dlq.REPLAYED}") == []


def test_replay_moves_exactly_the_filtered_letters_once(ns, letters):
    email_only = dlq.parse_filters(["email"], ["MessageRejected"])
    steps: list[tuple[int, int]] = []
    report = dlq.replay(email_only, dry_run=False, prefix=ns,
                        progress=lambda done, total: steps.append((done, total)))
    assert report.ok and len(report.replayed) == 2
    assert steps == [(0, 2), (1, 2), (2, 2)]

    sent = read_all(f"{ns}{channel_topic('email')}")
    assert sorted(REGISTRY.decode(m.value())["notification_id"] for m in sent) == [
        "nid-rejected_new", "nid-rejected_old"]
    for msg in sent:
        nid = REGISTRY.decode(msg.value())["notification_id"]
        name = nid.removeprefix("nid-")
        assert msg.value() == REGISTRY.encode("notification_request", letters[name])
        assert msg.key() == b"order-4" and msg.partition() == 1
        headers = _headers(msg)
        assert list(headers) == [dlq.REPLAY_HEADER]  # no retry headers: fresh attempts
        assert headers[dlq.REPLAY_HEADER].decode().startswith(
            f"{ns}ordercast.notify.email.dlt:1:")
    assert read_all(f"{ns}{channel_topic('sms')}") == []

    again = dlq.replay(email_only, dry_run=False, prefix=ns)
    assert again.planned == [] and len(again.skipped) == 2
    assert all(s.reason.startswith("already replayed") for s in again.skipped)
    assert len(read_all(f"{ns}{channel_topic('email')}")) == 2

    # what the filter left out is still there to replay
    rest = dlq.replay(dlq.parse_filters(), dry_run=False, prefix=ns)
    assert sorted(p.view.notification_id or "-" for p in rest.planned) == [
        "-", "nid-sms", "nid-throttled"]
    assert len(read_all(f"{ns}{channel_topic('email')}")) == 3
    (sms,) = read_all(f"{ns}{channel_topic('sms')}")
    assert (sms.key(), sms.partition()) == (b"order-1", 0)
    (event,) = read_all(f"{ns}orders.created")
    assert (event.value(), event.key(), event.partition()) == (b"\xc3\x01not avro",
                                                               b"order-6", 1)
    assert len(read_all(f"{ns}{dlq.REPLAYED}")) == 5


def test_cli_replay_confirms_reports_and_show_tells_it_was_replayed(ns, letters, monkeypatch):
    runner = CliRunner()
    monkeypatch.setattr(cli_dlq, "_interactive", lambda: True)
    declined = runner.invoke(dlq_cli, ["replay", "-c", "sms"], input="n\n")
    assert declined.exit_code == 1 and "nothing replayed" in declined.stderr
    assert read_all(f"{ns}{channel_topic('sms')}") == []

    done = runner.invoke(dlq_cli, ["replay", "-c", "sms", "--yes"])
    assert done.exit_code == 0, done.output
    assert "replayed 1, failed 0, skipped 0" in done.stdout
    assert len(read_all(f"{ns}{channel_topic('sms')}")) == 1

    again = runner.invoke(dlq_cli, ["replay", "-c", "sms", "--yes"])
    assert again.exit_code == 0
    assert "nothing to replay (1 skipped)" in again.stdout
    assert "already replayed" in again.stdout

    shown = runner.invoke(dlq_cli, ["show", "nid-sms"])
    assert f"to {ns}ordercast.notify.sms[0]@0 by " in shown.stdout
    listed = runner.invoke(dlq_cli, ["list", "-c", "sms"])
    assert " replayed" in listed.stdout.splitlines()[0]
    unreplayed = runner.invoke(dlq_cli, ["list", "-c", "email"])
    assert " replayed" not in unreplayed.stdout.splitlines()[0]


def test_replay_without_the_marker_topic_refuses(broker):
    bare = unique_prefix()
    topics.apply(tuple(BY_NAME[t] for t in dlq.SOURCES), prefix=bare, partitions=1)
    try:
        with pytest.raises(dlq.DlqError, match=f"{bare}ordercast.dlq.replayed does not exist"):
            dlq.replay(dlq.Filters(), dry_run=True, prefix=bare)
    finally:
        topics.delete_prefixed((bare,))


def _sent_to(moto: str, address: str) -> list[dict]:
    with urllib.request.urlopen(f"{moto}/moto-api/data.json", timeout=5) as r:
        messages = json.load(r)["ses"]["Message"]
    return [m for m in messages if address in m["destinations"]["ToAddresses"]]


def test_unverified_sender_is_dead_lettered_then_replayed_and_delivered_once(
        prefix, moto, worker_factory, tmp_path):
    uid = uuid.uuid4().hex[:10]
    sender, buyer = f"noreply@{uid}.example", f"buyer-{uid}@example.com"
    merchants = tmp_path / "merchants.json"
    merchants.write_text(json.dumps({"merchants": [
        {"merchant_id": "default", "name": "Shop", "sender_email": sender}]}))
    worker = worker_factory(ORDERCAST_MERCHANTS_FILE=str(merchants))
    req = {**request(address=buyer, event_id=f"ev-{uid}"), "variables": {
        "order_no": "202405010001", "amount": "¥88.00", "occurred_at": "2024-05-01 20:30",
        "product_name": "Steam Wallet 100", "payment_method": "alipay"}}
    prod = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    prod.produce(f"{prefix}{channel_topic('email')}", REGISTRY.encode("notification_request", req),
                 b"202405010001")
    assert prod.flush(30) == 0

    dlt = f"{prefix}{dead_letter_topic('email')}"
    (letter,) = wait_for(lambda: read_all(dlt), 60, message="the send to be dead-lettered")
    view = dlq.view_of(dlt, letter.partition(), letter.offset(), "email", letter.key(),
                       letter.value(), letter.headers())
    assert view.notification_id == req["notification_id"]
    assert "not verified" in view.error_message and not _sent_to(moto, buyer)

    verify_senders(moto, [sender])  # the operator fixes the cause
    report = dlq.replay(dlq.Filters(channels=("email",)), dry_run=False, prefix=prefix)
    assert len(report.replayed) == 1
    wait_for(lambda: _sent_to(moto, buyer), 60, message="the replayed email to be sent")
    wait_for(lambda: worker.metric("ordercast_deliveries_total", channel="email",
                                   status="delivered") == 1, 30, message="delivered metric")

    assert dlq.replay(dlq.Filters(), dry_run=False, prefix=prefix).planned == []
    # a second copy (a replay cut short before its marker) is dropped by delivery
    hits = worker.metric("ordercast_dedup_hits_total", stage="delivery")
    planned = report.replayed[0].planned
    assert planned.partition is not None
    key, value, headers = planned.message()
    prod.produce(planned.topic, value, key, partition=planned.partition, headers=headers)
    assert prod.flush(30) == 0
    wait_for(lambda: worker.metric("ordercast_dedup_hits_total", stage="delivery") > hits, 60,
             message="the duplicate to be dropped")
    assert len(_sent_to(moto, buyer)) == 1
