"""Dead-letter tools: list, show and replay what the workers dead-lettered.

Dead letters live on each channel's `ordercast.notify.<channel>.dlt` and, for
lifecycle events that could not be decoded, on `ordercast.events.dlt`
(channel "ingest"). Every value is a `dead_letter` record holding the original
payload bytes and key; its headers repeat where it came from and why.

Replay
------
A replay republishes the original payload and key, unchanged, to where the
message should have been handled: the channel topic for channel dead letters
(never the retry topic it may have died on) or the original lifecycle topic for
ingest dead letters. It goes to the original partition, because the tables that
deduplicate (delivery's `sends`, the router's routed events) are sharded by
partition. It carries one header, `ordercast.replay.of = topic:partition:offset`
of the dead letter, and no `ordercast.retry.*` headers, so attempts start again.

What was replayed is recorded in the `ordercast.dlq.replayed` topic: one marker
per dead letter, keyed by its coordinates, written once the broker has
acknowledged the replayed message. A replay reads every marker first and skips
the dead letters they name, so running the same replay twice replays nothing
new, while a dead letter a filter left out has no marker and stays replayable.
(Consumer-group offsets cannot do this: they hold one position per partition,
so committing past a letter that a filter skipped would lose it for good.)
If a replayed message dies again it becomes a new dead letter with new
coordinates, so it can be replayed again once its cause is fixed.

Markers live as long as dead letters (same retention, delete policy); a marker
is always younger than the dead letter it names, so it never expires first.

The one gap: a crash between the acknowledgement and the marker, or two
operators replaying at once, can replay a dead letter twice. Both copies carry
the same notification id (or event id) on the same partition, so the workers'
deduplication suppresses the second: an operator may see a letter counted
twice, a buyer never gets a second message.
"""

from __future__ import annotations

import getpass
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from channels.pii import scrub
from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import deadletter
from . import settings as cfg
from .catalog import (
    BY_NAME,
    CHANNELS,
    DLQ_REPLAYED,
    EVENTS_DLT,
    LIFECYCLE,
    channel_topic,
    dead_letter_topic,
    full_name,
)
from .clock import now_ms
from .exceptions import OrdercastError

INGEST = "ingest"
SOURCES = {**{dead_letter_topic(ch): ch for ch in CHANNELS}, EVENTS_DLT: INGEST}
KNOWN_CHANNELS = (*CHANNELS, INGEST)
REPLAY_HEADER = "ordercast.replay.of"
LIST_LIMIT = 200  # `dlq list` default: a table, not a dump

REPLAYED = DLQ_REPLAYED
REPLAYED_SPEC = BY_NAME[DLQ_REPLAYED]

# A dead letter is produced after its last failure, so its Kafka timestamp is
# not older than last-failure-at; the slack covers broker-side timestamps.
SEEK_SLACK_MS = 10 * 60 * 1000


class DlqError(OrdercastError):
    """A dead-letter command cannot do what was asked."""

    exit_code = 1


class BadArgument(DlqError):
    """A filter, time or coordinate the operator typed does not parse."""

    exit_code = 2


class NotFound(DlqError):
    pass


class NotReplayable(DlqError):
    """This dead letter cannot be put back (no payload, unknown destination)."""


# -- parsing what the operator types ------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: int) -> int:
    """ISO-8601 (naive means UTC) or relative to `now` (`30m`, `2h`, `1d`) -> epoch ms."""
    value = text.strip()
    m = _RELATIVE.match(value.lower())
    try:
        if m:
            delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
            return now - int(delta.total_seconds() * 1000)
        at = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise BadArgument(f"bad time {text!r}: use ISO-8601 (2024-05-01T12:00Z) "
                          "or a relative time like 30m, 2h, 1d") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


@dataclass(frozen=True)
class Filters:
    channels: tuple[str, ...] = ()  # empty: every channel and ingest
    error_classes: tuple[str, ...] = ()
    since_ms: int | None = None  # last failure at or after
    until_ms: int | None = None  # last failure before
    limit: int | None = None  # the oldest N that match

    def topics(self) -> list[str]:
        wanted = self.channels or KNOWN_CHANNELS
        return [t for t, ch in SOURCES.items() if ch in wanted]

    def matches(self, view: DeadLetterView) -> bool:
        at = view.last_failure_at
        return ((not self.channels or view.channel in self.channels)
                and (not self.error_classes or view.error_class in self.error_classes)
                and (self.since_ms is None or (at is not None and at >= self.since_ms))
                and (self.until_ms is None or (at is not None and at < self.until_ms)))


def parse_filters(channels: Iterable[str] = (), error_classes: Iterable[str] = (),
                  since: str | None = None, until: str | None = None,
                  limit: int | None = None, *, now: int | None = None) -> Filters:
    now = now_ms() if now is None else now
    chans = tuple(dict.fromkeys(c.strip().lower() for c in channels))
    unknown = [c for c in chans if c not in KNOWN_CHANNELS]
    if unknown:
        raise BadArgument(f"unknown channel {unknown[0]!r}; known: {', '.join(KNOWN_CHANNELS)}")
    if limit is not None and limit < 1:
        raise BadArgument(f"--limit must be at least 1, got {limit}")
    since_ms = parse_time(since, now) if since else None
    until_ms = parse_time(until, now) if until else None
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise BadArgument(f"--since {since} is not before --until {until}")
    return Filters(chans, tuple(dict.fromkeys(e.strip() for e in error_classes if e.strip())),
                   since_ms, until_ms, limit)


@dataclass(frozen=True)
class Coordinates:
    topic: str  # name on the broker
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


_COLON = re.compile(r"^(?P<t>[^:\s\[\]@]+):(?P<p>-?\d+):(?P<o>-?\d+)$")
_BRACKET = re.compile(r"^(?P<t>[^:\s\[\]@]+)\[(?P<p>-?\d+)\]@(?P<o>-?\d+)$")


def looks_like_coordinates(text: str) -> bool:
    return any(c in text for c in ":[@")


def parse_coordinates(text: str, prefix: str) -> Coordinates:
    """`TOPIC:PARTITION:OFFSET` or `TOPIC[PARTITION]@OFFSET` (as `dlq list` prints it);
    TOPIC is a dead-letter topic, with or without the topic prefix."""
    m = _COLON.match(text.strip()) or _BRACKET.match(text.strip())
    if not m:
        raise BadArgument(f"bad coordinates {text!r}: use TOPIC:PARTITION:OFFSET")
    topic, partition, offset = m.group("t"), int(m.group("p")), int(m.group("o"))
    if partition < 0 or offset < 0:
        raise BadArgument(f"bad coordinates {text!r}: partition and offset are not negative")
    names = {full_name(t, prefix) for t in SOURCES}
    if topic not in names:
        topic = full_name(topic, prefix)
    if topic not in names:
        raise BadArgument(f"{m.group('t')!r} is not a dead-letter topic; known: "
                          + ", ".join(sorted(names)))
    return Coordinates(topic, partition, offset)


# -- what a dead letter says --------------------------------------------------------

@dataclass(frozen=True)
class Marker:
    """Where and when a dead letter was replayed (a record on the marker topic)."""

    dead_letter: str
    target_topic: str = "?"
    target_partition: int = -1
    target_offset: int = -1
    replayed_at: int | None = None
    replayed_by: str = "?"
    notification_id: str | None = None

    def encode(self) -> bytes:
        return REGISTRY.encode("dlq_replay", {
            "dead_letter": self.dead_letter, "notification_id": self.notification_id,
            "target_topic": self.target_topic, "target_partition": self.target_partition,
            "target_offset": self.target_offset, "replayed_at": self.replayed_at or 0,
            "replayed_by": self.replayed_by})

    @classmethod
    def decode(cls, key: bytes, value: bytes | None) -> Marker:
        try:
            rec = REGISTRY.decode(value, expect="dlq_replay")
        except DecodeError:  # the key alone says it was replayed
            return cls(key.decode(errors="replace"))
        return cls(**{k: rec[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class DeadLetterView:
    topic: str  # the dead-letter topic on the broker
    partition: int
    offset: int
    channel: str  # email | sms | inapp | webhook | ingest
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: bytes | None
    payload: bytes | None  # None: the dead letter's own value does not decode
    error_class: str
    error_message: str
    attempts: int
    first_failure_at: int | None
    last_failure_at: int | None
    notification_id: str | None
    headers: tuple[tuple[str, bytes], ...] = ()
    replayed: Marker | None = None

    @property
    def coordinates(self) -> Coordinates:
        return Coordinates(self.topic, self.partition, self.offset)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def origin(self) -> str:
        return f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"


def _int(text: str | None, default: int | None = None) -> int | None:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def view_of(topic: str, partition: int, offset: int, channel: str, key: bytes | None,
            value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> DeadLetterView:
    """A dead-letter message as the tools see it: the record when it decodes,
    its headers when it does not (then there is no payload to replay)."""
    hdrs = tuple(headers or ())
    h = deadletter.read_headers(list(hdrs))
    try:
        rec: dict[str, Any] = REGISTRY.decode(value, expect="dead_letter")
        payload: bytes | None = rec["payload"]
    except DecodeError as exc:
        rec = {
            "original_topic": h.get("original-topic", "?"),
            "original_partition": _int(h.get("original-partition"), -1),
            "original_offset": _int(h.get("original-offset"), -1),
            "original_key": key,
            "error_class": h.get("error-class", "?"),
            "error_message": h.get("error-message", f"dead letter value: {exc}"),
            "attempts": _int(h.get("attempts"), 0),
            "first_failure_at": _int(h.get("first-failure-at")),
            "last_failure_at": _int(h.get("last-failure-at")),
            "notification_id": h.get("notification-id"),
        }
        payload = None
    return DeadLetterView(
        topic, partition, offset, channel, rec["original_topic"], rec["original_partition"],
        rec["original_offset"], rec["original_key"] if rec["original_key"] is not None else key,
        payload, rec["error_class"], scrub(rec["error_message"]), rec["attempts"],
        rec["first_failure_at"], rec["last_failure_at"], rec["notification_id"], hdrs)


def format_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- where a replay goes ------------------------------------------------------------

@dataclass(frozen=True)
class Planned:
    view: DeadLetterView
    topic: str
    partition: int | None  # None: let the key choose (murmur2, as the workers do)

    def message(self) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers): the original key and payload, one replay header."""
        assert self.view.payload is not None
        return (self.view.original_key, self.view.payload,
                [(REPLAY_HEADER, str(self.view.coordinates).encode())])


def plan_one(view: DeadLetterView, prefix: str, partitions: dict[str, int]) -> Planned:
    """Where `view` is replayed to; `partitions` is the partition count per broker topic."""
    if view.payload is None:
        raise NotReplayable("the dead letter's value does not decode: no payload to replay")
    if not view.payload:
        raise NotReplayable("the original message had no payload")
    if len(view.payload) >= deadletter.MAX_PAYLOAD:
        raise NotReplayable("the payload was truncated when it was dead-lettered")
    if view.channel == INGEST:
        topic = view.original_topic
        if topic not in {full_name(s.name, prefix) for s in LIFECYCLE}:
            raise NotReplayable(f"original topic {topic!r} is not a lifecycle topic here")
    else:
        topic = full_name(channel_topic(view.channel), prefix)
    if topic not in partitions:
        raise NotReplayable(f"topic {topic!r} does not exist")
    p = view.original_partition
    return Planned(view, topic, p if 0 <= p < partitions[topic] else None)


@dataclass(frozen=True)
class Skipped:
    view: DeadLetterView
    reason: str


@dataclass
class ReplayPlan:
    planned: list[Planned] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Replayed:
    planned: Planned
    marker: Marker


@dataclass
class ReplayReport:
    dry_run: bool
    planned: list[Planned] = field(default_factory=list)  # what (would have) gone out
    replayed: list[Replayed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[tuple[Planned, str]] = field(default_factory=list)  # not replayed
    unrecorded: list[Replayed] = field(default_factory=list)  # replayed, marker not written

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unrecorded


# -- Kafka ---------------------------------------------------------------------------

def _consumer(bootstrap: str | None) -> Consumer:
    # Assigned partitions only: this group never joins or commits.
    return Consumer({"bootstrap.servers": bootstrap or cfg.kafka().bootstrap,
                     "group.id": "ordercast-dlq", "enable.auto.commit": False,
                     "enable.auto.offset.store": False, "auto.offset.reset": "earliest"})


def _topic_partitions(consumer: Consumer, bootstrap: str | None,
                      timeout: float) -> dict[str, int]:
    try:
        md = consumer.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise DlqError(f"cannot reach Kafka at {bootstrap or cfg.kafka().bootstrap}: "
                       f"{exc.args[0]}") from None
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


def _scan(consumer: Consumer, topics: Iterable[str], partitions: dict[str, int],
          timeout: float, since_ms: int | None = None) -> Iterator[Message]:
    """Every message on `topics` up to the end offsets seen when the scan starts."""
    start: dict[tuple[str, int], int] = {}
    end: dict[tuple[str, int], int] = {}
    for topic in topics:
        for p in range(partitions[topic]):
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)
            if hi > lo:
                start[(topic, p)], end[(topic, p)] = lo, hi
    if since_ms is not None and start:
        asked = [TopicPartition(t, p, max(0, since_ms - SEEK_SLACK_MS)) for t, p in start]
        for tp in consumer.offsets_for_times(asked, timeout):
            key = (tp.topic, tp.partition)
            if tp.offset < 0:  # nothing that recent
                del start[key], end[key]
            else:
                start[key] = max(start[key], tp.offset)
    pending = {k for k in start if start[k] < end[k]}
    if not pending:
        return
    consumer.assign([TopicPartition(t, p, start[(t, p)]) for t, p in pending])
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise DlqError(f"timed out reading {', '.join(sorted({t for t, _ in pending}))}")
        for msg in consumer.consume(500, 0.5):
            if msg.error() is not None:
                raise DlqError(f"reading {msg.topic()}[{msg.partition()}]: {msg.error()}")
            key = (msg.topic(), msg.partition())
            if key in pending and msg.offset() < end[key]:
                deadline = time.monotonic() + timeout
                yield msg
                if msg.offset() + 1 >= end[key]:
                    pending.discard(key)
        # positions also move past transaction markers, which are never delivered
        for tp in consumer.position([TopicPartition(t, p) for t, p in pending]):
            if tp.offset >= end[(tp.topic, tp.partition)]:
                pending.discard((tp.topic, tp.partition))


def _read_one(consumer: Consumer, at: Coordinates, timeout: float) -> Message:
    consumer.assign([TopicPartition(at.topic, at.partition, at.offset)])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            raise DlqError(f"reading {at}: {msg.error()}")
        if msg.offset() == at.offset:
            return msg
        break  # the offset holds no record (a transaction marker)
    raise NotFound(f"no message at {at}")


def _markers(consumer: Consumer, prefix: str, partitions: dict[str, int],
             timeout: float) -> dict[str, Marker]:
    topic = full_name(REPLAYED, prefix)
    if topic not in partitions:
        return {}
    return {m.key().decode(errors="replace"): Marker.decode(m.key(), m.value())
            for m in _scan(consumer, [topic], partitions, timeout) if m.key()}


def _views(consumer: Consumer, filters: Filters, prefix: str, partitions: dict[str, int],
           timeout: float) -> list[DeadLetterView]:
    topics = {full_name(t, prefix): ch for t, ch in SOURCES.items()
              if t in filters.topics()}
    missing = sorted(t for t in topics if t not in partitions)
    if missing:
        raise DlqError(f"topic {missing[0]} does not exist; run `ordercast topics apply`")
    markers = _markers(consumer, prefix, partitions, timeout)
    found = []
    for msg in _scan(consumer, topics, partitions, timeout, filters.since_ms):
        v = view_of(msg.topic(), msg.partition(), msg.offset(), topics[msg.topic()],
                    msg.key(), msg.value(), msg.headers())
        if filters.matches(v):
            found.append(replace(v, replayed=markers.get(str(v.coordinates))))
    found.sort(key=lambda v: (v.last_failure_at or 0, v.topic, v.partition, v.offset))
    return found[:filters.limit] if filters.limit else found


def _prefix(prefix: str | None) -> str:
    return cfg.kafka().topic_prefix if prefix is None else prefix


def list_dead_letters(filters: Filters, *, prefix: str | None = None,
                      bootstrap: str | None = None, timeout: float = 30.0
                      ) -> list[DeadLetterView]:
    """Dead letters matching `filters`, oldest last failure first, with replay markers."""
    consumer = _consumer(bootstrap)
    try:
        parts = _topic_partitions(consumer, bootstrap, timeout)
        return _views(consumer, filters, _prefix(prefix), parts, timeout)
    finally:
        consumer.close()


def find(target: str, *, prefix: str | None = None, bootstrap: str | None = None,
         timeout: float = 30.0) -> list[DeadLetterView]:
    """The dead letter at `TOPIC:PARTITION:OFFSET`, or every one for a notification id."""
    prefix = _prefix(prefix)
    if not looks_like_coordinates(target):
        found = [v for v in list_dead_letters(Filters(), prefix=prefix, bootstrap=bootstrap,
                                              timeout=timeout)
                 if v.notification_id == target.strip()]
        if not found:
            raise NotFound(f"no dead letter with notification id {target.strip()!r}")
        return found
    at = parse_coordinates(target, prefix)
    consumer = _consumer(bootstrap)
    try:
        parts = _topic_partitions(consumer, bootstrap, timeout)
        if at.topic not in parts or at.partition >= parts[at.topic]:
            raise NotFound(f"{at.topic} has no partition {at.partition}")
        lo, hi = consumer.get_watermark_offsets(TopicPartition(at.topic, at.partition), timeout)
        if not lo <= at.offset < hi:
            raise NotFound(f"no message at {at}: the partition holds offsets {lo}..{hi - 1}"
                           if hi > lo else f"no message at {at}: the partition is empty")
        msg = _read_one(consumer, at, timeout)
        markers = _markers(consumer, prefix, parts, timeout)
        channel = SOURCES[at.topic[len(prefix):]]
        v = view_of(at.topic, at.partition, at.offset, channel, msg.key(), msg.value(),
                    msg.headers())
        return [replace(v, replayed=markers.get(str(v.coordinates)))]
    finally:
        consumer.close()


def plan_replay(filters: Filters, *, prefix: str | None = None, bootstrap: str | None = None,
                timeout: float = 30.0) -> ReplayPlan:
    """What a replay with `filters` would do; reads only."""
    prefix = _prefix(prefix)
    consumer = _consumer(bootstrap)
    try:
        parts = _topic_partitions(consumer, bootstrap, timeout)
        if full_name(REPLAYED, prefix) not in parts:
            raise DlqError(f"topic {full_name(REPLAYED, prefix)} does not exist; "
                           "run `ordercast topics apply`")
        # Already-replayed letters do not count against --limit.
        views = _views(consumer, replace(filters, limit=None), prefix, parts, timeout)
    finally:
        consumer.close()
    plan = ReplayPlan()
    for v in views:
        if v.replayed is not None:
            when = format_time(v.replayed.replayed_at)
            plan.skipped.append(Skipped(v, f"already replayed at {when} UTC"))
        elif filters.limit and len(plan.planned) >= filters.limit:
            continue
        else:
            try:
                plan.planned.append(plan_one(v, prefix, parts))
            except NotReplayable as exc:
                plan.skipped.append(Skipped(v, str(exc)))
    return plan


def execute(plan: ReplayPlan, *, prefix: str | None = None, bootstrap: str | None = None,
            progress: Callable[[int, int], None] | None = None,
            timeout: float = 60.0) -> ReplayReport:
    """Produce the planned replays; mark each one once the broker acknowledged it."""
    marker_topic = full_name(REPLAYED, _prefix(prefix))
    report = ReplayReport(False, list(plan.planned), skipped=list(plan.skipped))
    total, done_count = len(plan.planned), 0
    acked: deque[Replayed] = deque()  # acknowledged, marker not yet produced
    who = _operator()
    prod = Producer({"bootstrap.servers": bootstrap or cfg.kafka().bootstrap,
                     "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                     "partitioner": "murmur2_random"})  # the workers' (Java) partitioner

    def replayed(planned: Planned):
        def done(err, msg) -> None:
            nonlocal done_count
            done_count += 1
            if err is not None:
                report.failed.append((planned, str(err)))
            else:
                acked.append(Replayed(planned, Marker(
                    str(planned.view.coordinates), msg.topic(), msg.partition(), msg.offset(),
                    now_ms(), who, planned.view.notification_id)))
            if progress:
                progress(done_count, total)
        return done

    def marked(r: Replayed):
        def done(err, _msg) -> None:
            if err is not None:
                report.unrecorded.append(r)
            else:
                report.replayed.append(r)
        return done

    def record_acked() -> None:
        while acked:
            r = acked.popleft()
            _produce(prod, marker_topic, r.marker.dead_letter.encode(), r.marker.encode(),
                     on_delivery=marked(r))

    if progress:
        progress(0, total)
    try:
        for planned in plan.planned:
            key, value, headers = planned.message()
            extra = {} if planned.partition is None else {"partition": planned.partition}
            _produce(prod, planned.topic, key, value, headers=headers,
                     on_delivery=replayed(planned), **extra)
            record_acked()
    finally:  # also on Ctrl-C: record whatever was acknowledged
        prod.flush(timeout)
        record_acked()
        left = prod.flush(timeout)
    if left:
        raise DlqError(f"{left} messages not acknowledged by Kafka within {timeout:.0f}s")
    return report


def replay(filters: Filters, *, dry_run: bool, prefix: str | None = None,
           bootstrap: str | None = None,
           progress: Callable[[int, int], None] | None = None) -> ReplayReport:
    """Replay the dead letters matching `filters` that were not replayed before."""
    plan = plan_replay(filters, prefix=prefix, bootstrap=bootstrap)
    if dry_run:
        return ReplayReport(True, plan.planned, skipped=plan.skipped)
    return execute(plan, prefix=prefix, bootstrap=bootstrap, progress=progress)


def _produce(prod: Producer, topic: str, key: bytes | None, value: bytes, **kw: Any) -> None:
    while True:
        try:
            prod.produce(topic, value, key, **kw)
            break
        except BufferError:  # local queue full: let it drain
            prod.poll(0.1)
        except KafkaException as exc:
            raise DlqError(f"cannot produce to {topic}: {exc.args[0]}") from None
    prod.poll(0)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
