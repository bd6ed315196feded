"""The one question every fault test ends with: was every expected notification
delivered exactly once, or is it in its channel's dead-letter topic with a
reason? Duplicates are tolerated only up to the resends the workers admitted
to (`ordercast_ambiguous_resends_total`), and are counted.

Deliveries are read where the provider keeps them, never from the worker's
own account of what it did:

- email: moto's SES store; every HTML body carries `ordercast-notification:<id>`.
- in-app: the inbox topic (`{prefix}ordercast.inbox`), which is the in-app
  channel's provider; each `inbox_item` carries its notification id.
- SMS: moto's SNS store, matched by E.164 number and exact text. The text is
  re-rendered here from the request with the worker's own templates (SMS never
  carries a per-send link, so rendering is deterministic); tagged order numbers
  make each (number, text) pair unique to one notification.

The `delivery-results` topic is deliberately not the source: the worker writes
a result after the provider accepted the message and after marking it sent, so
a SIGKILL between the two leaves a delivered notification without a result
(the restarted worker rightly sends nothing), and a result cannot show a
duplicate the provider received. Dead letters are matched by their
`notification-id` header.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from channels.exceptions import InvalidAddress
from channels.sms import e164
from schemas.codec import REGISTRY
from streams.catalog import INBOX, dead_letter_topic
from streams.deadletter import read_headers
from streams.merchants import Merchants
from streams.render import PARTS_BY_CHANNEL, TEMPLATE_DIR, Renderer
from tests.chaos.kafka import read_all
from tests.integration.expect import MERCHANTS, moto_data
from tests.support import Worker

CHECKED_CHANNELS = ("email", "sms", "inapp")
SMS_REGION = "CN"  # the worker's default ORDERCAST_SMS_DEFAULT_REGION


@lru_cache(maxsize=1)
def _renderer() -> Renderer:
    return Renderer(TEMPLATE_DIR)


def sms_key(request: Mapping, merchants: Merchants = MERCHANTS) -> tuple[str, str]:
    """(E.164 number, exact text) moto records for this SMS request."""
    rendered = _renderer().render(request["template"], request["locale"],
                                  merchants[request["merchant_id"]], request["variables"],
                                  parts=PARTS_BY_CHANNEL["sms"])
    try:
        phone = e164(request["address"], SMS_REGION)
    except InvalidAddress:  # never reaches moto: it can only end in the dead-letter topic
        phone = f"invalid:{request['notification_id']}"
    return phone, rendered.sms


@dataclass
class Observed:
    copies: Counter = field(default_factory=Counter)  # nid -> copies the provider holds
    letters: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # nid -> headers

    def accounted(self, nid: str) -> bool:
        return self.copies[nid] > 0 or nid in self.letters


@dataclass(frozen=True)
class Verdict:
    delivered: int
    dead_lettered: int
    duplicates: Counter  # channel -> extra provider copies
    reasons: Counter  # error-class -> dead-lettered notifications
    letters: dict[str, dict[str, str]]  # notification id -> its dead letter's headers

    def __str__(self) -> str:
        return (f"{self.delivered} delivered, {self.dead_lettered} dead-lettered "
                f"{dict(self.reasons)}, {sum(self.duplicates.values())} duplicate(s) "
                f"{dict(self.duplicates)}")


class Ledger:
    """What one test expects, and how to look it up on `bootstrap` and in moto."""

    def __init__(self, expected: Mapping[str, dict], prefix: str, bootstrap: str,
                 merchants: Merchants = MERCHANTS) -> None:
        self.expected = {nid: r for nid, r in expected.items()
                         if r["channel"] in CHECKED_CHANNELS}
        unchecked = set(expected) - set(self.expected)
        assert not unchecked, f"no delivery check for channels of {sorted(unchecked)[:3]}"
        self.prefix, self.bootstrap = prefix, bootstrap
        self.sms = {nid: sms_key(r, merchants) for nid, r in self.expected.items()
                    if r["channel"] == "sms"}
        clashes = [k for k, n in Counter(self.sms.values()).items() if n > 1]
        assert not clashes, f"two expected SMS share number and text: {clashes[:2]}"

    def by_channel(self, channel: str) -> dict[str, dict]:
        return {n: r for n, r in self.expected.items() if r["channel"] == channel}

    def observe(self) -> Observed:
        seen = Observed()
        data = moto_data()
        wanted_email = set(self.by_channel("email"))
        for msg in data["ses"]["Message"]:
            nid = msg.get("body", "").rpartition("ordercast-notification:")[2][:36]
            if nid in wanted_email:
                seen.copies[nid] += 1
        nid_by_sms = {key: nid for nid, key in self.sms.items()}
        for sms in data["sns"]["SMS"]:
            nid = nid_by_sms.get((sms["phone_number"], sms["message"]))
            if nid:
                seen.copies[nid] += 1
        wanted_inapp = set(self.by_channel("inapp"))
        for msg in read_all(self.prefix + INBOX, self.bootstrap):
            nid = REGISTRY.decode(msg.value(), expect="inbox_item")["notification_id"]
            if nid in wanted_inapp:
                seen.copies[nid] += 1
        for channel in CHECKED_CHANNELS:
            for msg in read_all(self.prefix + dead_letter_topic(channel), self.bootstrap):
                headers = read_headers(msg.headers())
                nid = headers.get("notification-id")
                if nid in self.expected:
                    seen.letters.setdefault(nid, []).append(headers)
        return seen

    def settle(self, timeout: float, interval: float = 2.0) -> Observed:
        """Poll until every expected notification is delivered or dead-lettered
        (not faster: moto answers with everything it ever accepted)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.observe()
            missing = [n for n in self.expected if not seen.accounted(n)]
            if not missing:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(missing)} of {len(self.expected)} notifications neither delivered "
                    f"nor dead-lettered after {timeout:.0f}s; e.g. "
                    + ", ".join(f"{n} ({self.expected[n]['channel']})" for n in missing[:5]))
            time.sleep(interval)


def ambiguous_resends(*workers: Worker) -> Callable[[], float]:
    """ordercast_ambiguous_resends_total summed over the running `workers`."""
    return lambda: sum(w.metric("ordercast_ambiguous_resends_total") for w in workers)


def check_delivered_once_or_dead_lettered(
        ledger: Ledger, *, ambiguous: Callable[[], float], timeout: float = 120.0,
        reasons: Iterable[str] | None = None, dead_letters_allowed: bool = True) -> Verdict:
    """Wait for every expected notification to be accounted for, then check it
    was delivered exactly once or dead-lettered once with a reason (from
    `reasons` if given), and that duplicates stay within the resends the
    workers admitted to (`ambiguous()`, read once everything has settled)."""
    seen = ledger.settle(timeout)
    ambiguous_resends = ambiguous()
    allowed = set(reasons) if reasons is not None else None
    problems: list[str] = []
    why: Counter = Counter()
    for nid, request in ledger.expected.items():
        copies, letters = seen.copies[nid], seen.letters.get(nid, [])
        if copies and letters:
            problems.append(f"{nid}: delivered {copies}x and also dead-lettered")
        if len(letters) > 1:
            problems.append(f"{nid}: dead-lettered {len(letters)} times")
        for h in letters:
            if not (h.get("error-class") and h.get("error-message")):
                problems.append(f"{nid}: dead letter without a reason: {h}")
            if h.get("channel") != request["channel"]:
                problems.append(f"{nid}: dead letter on channel {h.get('channel')!r}")
            if allowed is not None and h.get("error-class") not in allowed:
                problems.append(f"{nid}: dead-lettered for {h.get('error-class')}, "
                                f"expected one of {sorted(allowed)}")
        if letters and not copies:
            why[letters[0].get("error-class")] += 1
    dead = sum(why.values())
    extra = Counter()
    for nid, n in seen.copies.items():
        extra[ledger.expected[nid]["channel"]] += max(0, n - 1)
    duplicates = sum(extra.values())
    letters = {n: h[0] for n, h in seen.letters.items() if not seen.copies[n]}
    verdict = Verdict(len(ledger.expected) - dead, dead, +extra, why, letters)
    if dead and not dead_letters_allowed:
        problems.append(f"{dead} notifications dead-lettered, none allowed: {dict(why)}")
    if duplicates > ambiguous_resends:
        twice = [(n, ledger.expected[n]["channel"], c) for n, c in seen.copies.items() if c > 1]
        problems.append(f"{duplicates} duplicate deliveries but only {ambiguous_resends:g} "
                        f"ambiguous resends admitted: {twice[:5]}")
    assert not problems, f"{verdict}; {len(problems)} problem(s):\n" + "\n".join(problems[:20])
    return verdict
