"""Labelled payment_failed streams for the risk engine, and a brute-force reference.

``generate`` builds a seeded stream (sorted by occurred_at) mixing normal
failures with attacks; ``labels[i]`` names the scenario of ``events[i]``:

- normal              many buyers, IPs and emails, one to three failures each
- card_testing_ip     one IP, many failures within minutes (one email or none)
- card_testing_email  one email, many failures from rotating IPs
- many_emails_ip      one IP, many distinct buyer emails within minutes
- slow                one IP and one email, just under the threshold, all hour
- straddle            a burst split across a tumbling boundary, under the
                      threshold on each side (a hopping window sees all of it)

``disorder`` turns it into an arrival order with late events and replays
(at-least-once redelivery).  ``reference_alerts`` computes the alerts the rules
imply by brute force: per key, per candidate window, scan the key's events in
arrival order.  It shares no keying or counting code with the engine, on purpose.

    python -m bench.risk_data        # prints the state memory budget and observe cost
"""

from __future__ import annotations

import gc
import json
import random
import time
import tracemalloc
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from streams.risk.engine import KeyState, observe
from streams.risk.rules import DEFAULT_RULES, EventFields, RiskRule, fields_of, keys_for

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of every usual window
SCENARIOS = ("normal", "card_testing_ip", "card_testing_email", "many_emails_ip", "slow",
             "straddle")
FAILURE_CODES = ("card_declined", "insufficient_funds", "do_not_honor", "expired_card",
                 "incorrect_cvc")
METHODS = ("card", "alipay", "wechat_pay", "paypal")


class Labelled(NamedTuple):
    events: list[dict[str, Any]]
    labels: list[str]


class RefAlert(NamedTuple):
    rule: str
    key: str
    window_start: int
    count: int
    event_id: str  # the event that brought the window to the threshold


class _Maker:
    def __init__(self, seed: int, start_ms: int) -> None:
        self.rng = random.Random(seed)
        self.start_ms = start_ms
        self.serial = 0
        self.events: list[tuple[int, int, dict[str, Any], str]] = []

    def ip(self, block: int) -> str:
        r = self.rng
        if block == 0:  # normal buyers: public-looking space outside the attackers' /15
            first = r.choice([n for n in range(1, 224) if n not in (10, 127, 198)])
            return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        self.serial += 1  # attackers: 198.18.0.0/15, one address each, never reused
        n = self.serial
        return f"198.{18 + (n >> 16) % 2}.{(n >> 8) & 255}.{n & 255}"

    def email(self, kind: str) -> str:
        self.serial += 1
        return f"{kind}{self.serial}@example.com"

    def add(self, t: int, label: str, *, ip: str | None, email: str | None,
            merchant: str, method: str | None = None) -> None:
        r = self.rng
        self.serial += 1
        record = {
            "envelope": {
                "event_id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
                "occurred_at": t,
                "merchant_id": merchant,
                "order_id": f"O{self.serial:09d}",
                "buyer": {"buyer_id": f"b{r.getrandbits(40):x}", "email": email, "phone": None,
                          "locale": "zh-CN", "timezone": "Asia/Shanghai"},
                "client_ip": ip,
                "amount_minor": r.choice((500, 990, 1990, 4990, 9900)),
                "currency": "CNY",
            },
            "payment_method": method or r.choice(METHODS),
            "failure_code": r.choice(FAILURE_CODES),
            "attempt": r.randint(1, 3),
        }
        self.events.append((t, self.serial, record, label))


def generate(
    seed: int = 0,
    n_normal: int = 5000,
    n_card_ip: int = 5,
    n_card_email: int = 5,
    n_many_emails: int = 5,
    n_slow: int = 5,
    n_straddle: int = 5,
    start_ms: int = START_MS,
    duration_s: int = 3600,
    size_s: int = 600,
    threshold: int = 5,
    distinct_threshold: int = 4,
    n_merchants: int = 20,
) -> Labelled:
    """A labelled stream over ``duration_s`` from ``start_ms``; ``size_s`` and the
    thresholds calibrate the slow and straddling attacks to the rules in use."""
    m = _Maker(seed, start_ms)
    r = m.rng
    span = duration_s * 1000
    merchants = [f"shop-{i:02d}" for i in range(1, n_merchants + 1)]

    def at(lo_ms: int, hi_ms: int) -> int:
        return start_ms + r.randint(lo_ms, hi_ms)

    # normal: a buyer fails once, sometimes retries once or twice within a minute or
    # two; a few come back later for one more try
    buyers: list[tuple[str, str]] = []
    made = 0
    while made < n_normal:
        returning = buyers and r.random() < 0.03
        if returning:
            ip, email = r.choice(buyers)
        else:
            ip, email = m.ip(0), m.email("buyer")
            buyers.append((ip, email))
        if r.random() < 0.1:
            ip = None  # shops that do not report the IP
        if r.random() < 0.05:
            email = None  # guest checkout without an email
        elif r.random() < 0.05:
            email = f"  {email.upper()} "  # normalised away: same buyer
        t, shop = at(0, span - 1), r.choice(merchants)
        tries = 1 if returning else r.choice((1, 1, 1, 1, 1, 1, 1, 2, 2, 3))
        for _ in range(min(n_normal - made, tries)):
            m.add(min(t, start_ms + span - 1), "normal", ip=ip, email=email, merchant=shop)
            t += r.randint(10_000, 60_000)
            made += 1

    burst_ms = 300_000  # bursts last at most 5 minutes: they span at most 2 windows
    for _ in range(n_card_ip):
        ip, email = m.ip(1), (m.email("ct") if r.random() < 0.5 else None)
        t0, shops = at(0, span - burst_ms), r.sample(merchants, r.randint(1, 3))
        for _ in range(r.randint(2 * threshold, 6 * threshold)):
            m.add(t0 + r.randint(0, r.randint(60_000, burst_ms)), "card_testing_ip", ip=ip,
                  email=email, merchant=r.choice(shops), method="card")
    for _ in range(n_card_email):
        email, t0, shop = m.email("ce"), at(0, span - burst_ms), r.choice(merchants)
        for _ in range(r.randint(2 * threshold, 6 * threshold)):
            m.add(t0 + r.randint(0, burst_ms), "card_testing_email", ip=m.ip(1), email=email,
                  merchant=shop, method="card")
    for _ in range(n_many_emails):
        ip, t0, shop = m.ip(1), at(0, span - burst_ms), r.choice(merchants)
        for _ in range(r.randint(2 * distinct_threshold, 3 * distinct_threshold)):
            m.add(t0 + r.randint(0, burst_ms), "many_emails_ip", ip=ip, email=m.email("me"),
                  merchant=shop)
    # at most threshold-1 events in any interval of size_s: spacing just over size/(thr-1)
    spacing = size_s * 1000 // max(1, threshold - 1) + 1000
    for _ in range(n_slow):
        ip, email, shop = m.ip(1), m.email("sl"), r.choice(merchants)
        t = at(0, spacing)
        while t < start_ms + span:
            m.add(t, "slow", ip=ip, email=email, merchant=shop, method="card")
            t += spacing
    half = (threshold + 1) // 2  # under the threshold on each side, over it together
    boundaries = max(1, span // (size_s * 1000) - 1)
    for _ in range(n_straddle):
        ip, email, shop = m.ip(1), m.email("st"), r.choice(merchants)
        b = start_ms - start_ms % (size_s * 1000) + r.randint(1, boundaries) * size_s * 1000
        for i in range(half):
            m.add(b - 30_000 * (i + 1), "straddle", ip=ip, email=email, merchant=shop)
            m.add(b + 10_000 + 30_000 * i, "straddle", ip=ip, email=email, merchant=shop)

    m.events.sort(key=lambda e: (e[0], e[1]))
    return Labelled([e[2] for e in m.events], [e[3] for e in m.events])


def key_labels(stream: Labelled) -> dict[str, set[str]]:
    """Normalised IP or email -> the scenarios it appears in (for precision/recall)."""
    out: dict[str, set[str]] = defaultdict(set)
    for ev, label in zip(stream.events, stream.labels, strict=True):
        env = ev["envelope"]
        for value in (env.get("client_ip"), env["buyer"].get("email")):
            if value and value.strip():
                out[value.strip().lower()].add(label)
    return dict(out)


def disorder(
    stream: Labelled,
    seed: int = 0,
    late_fraction: float = 0.05,
    max_delay_ms: int = 1_500_000,
    replay_fraction: float = 0.03,
    max_replay_delay_ms: int = 120_000,
) -> Labelled:
    """Arrival order: some events arrive late (up to ``max_delay_ms``), some twice
    (the same record again, as after a crash before the offset commit)."""
    r = random.Random(seed)
    arrivals = []
    for i, (ev, label) in enumerate(zip(stream.events, stream.labels, strict=True)):
        t = ev["envelope"]["occurred_at"]
        arrive = t + (r.randint(1, max_delay_ms) if r.random() < late_fraction else 0)
        arrivals.append((arrive, i, 0, ev, label))
        if r.random() < replay_fraction:
            arrivals.append((arrive + r.randint(0, max_replay_delay_ms), i, 1, ev, label))
    arrivals.sort(key=lambda a: a[:3])
    return Labelled([a[3] for a in arrivals], [a[4] for a in arrivals])


def reference_alerts(
    events: Iterable[Mapping[str, Any]],
    rules: Sequence[RiskRule] = DEFAULT_RULES,
    overrides: Mapping[tuple[str, str], RiskRule] | None = None,
) -> set[RefAlert]:
    """Every alert the rules imply for ``events`` taken in arrival order."""
    overrides = overrides or {}
    per_key: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    rule_of: dict[str, RiskRule] = {}
    for ev in events:
        env = ev["envelope"]
        merchant = env["merchant_id"]
        ip = (env.get("client_ip") or "").strip().lower()
        email = (env["buyer"].get("email") or "").strip().lower()
        for base in rules:
            value = ip if base.key_type == "ip" else email
            member = email if base.kind == "distinct" else env["event_id"]
            if not value or not member:
                continue
            if (merchant, base.name) in overrides:
                key, rule = f"{base.name}@{merchant}:{value}", overrides[(merchant, base.name)]
            else:
                key, rule = f"{base.name}:{value}", base
            per_key[key].append((env["occurred_at"], env["event_id"], member))
            rule_of[key] = rule

    found = set()
    for key, evs in per_key.items():
        rule = rule_of[key]
        size = rule.size_s * 1000
        step = (rule.step_s or rule.size_s) * 1000
        grace = (rule.size_s if rule.grace_s is None else rule.grace_s) * 1000
        seen_max, annotated = None, []
        for t, eid, member in evs:
            seen_max = t if seen_max is None else max(seen_max, t)
            annotated.append((t, eid, member, seen_max))
        starts = {k * step for t, _, _, _ in annotated
                  for k in range((t - size) // step, t // step + 1)
                  if k * step <= t < k * step + size}
        for s in sorted(starts):
            members: set[str] = set()
            for t, eid, member, newest in annotated:
                # counted if the event is inside and the window was still kept on arrival
                if s <= t < s + size and s + size >= newest - grace:
                    members.add(member)
                    if len(members) == rule.threshold:
                        found.add(RefAlert(rule.name, key, s, rule.threshold, eid))
                        break
    return found


class Raised(NamedTuple):
    key: str
    event_id: str  # the event whose observe call raised it
    alert: dict[str, Any]


def run_engine(
    events: Iterable[Mapping[str, Any]],
    rules: Sequence[RiskRule] = DEFAULT_RULES,
    overrides: Mapping[tuple[str, str], RiskRule] | None = None,
) -> tuple[list[Raised], dict[str, KeyState]]:
    """Drive the engine the way the agent does (one table, key by key); returns
    the alerts in order and the final table.  raised_at is the event time."""
    table: dict[str, KeyState] = {}
    raised = []
    for ev in events:
        f = fields_of(ev)
        for rule, key in keys_for(f, rules, overrides):
            state, alerts = observe(table.get(key), rule, key, f, f.occurred_at)
            table[key] = state
            raised.extend(Raised(key, f.event_id, a) for a in alerts)
    return raised, table


def as_ref(raised: Iterable[Raised]) -> set[RefAlert]:
    """Engine alerts in the reference's shape."""
    return {RefAlert(r.alert["rule"], r.key, r.alert["window_start"], r.alert["count"],
                     r.event_id) for r in raised}


def time_observe(events: Sequence[Mapping[str, Any]],
                 rules: Sequence[RiskRule] = DEFAULT_RULES) -> dict[str, float]:
    """Per-event cost of fields_of + keys_for + observe over ``events`` (one core)."""
    table: dict[str, KeyState] = {}
    calls = 0
    began = time.process_time()  # CPU time: other processes on the machine do not count
    for ev in events:
        f = fields_of(ev)
        for rule, key in keys_for(f, rules):
            table[key] = observe(table.get(key), rule, key, f, 0)[0]
            calls += 1
    elapsed = time.process_time() - began
    return {"events": len(events), "observe_calls": calls,
            "us_per_event": round(elapsed / len(events) * 1e6, 2),
            "us_per_observe_call": round(elapsed / calls * 1e6, 2),
            "events_per_cpu_s": round(len(events) / elapsed)}


def measure_state_memory(n_keys: int = 1_000_000) -> dict[str, float]:
    """Memory of a table of ``n_keys`` typical states (one open window holding one
    event id, one merchant, one order id), keys included: as ``KeyState`` objects,
    and as the plain dicts an in-memory table holds right after recovering from
    its changelog; plus the compact JSON bytes per state."""
    rng = random.Random(7)
    rule = DEFAULT_RULES[0]

    def key(i: int) -> str:
        return f"{rule.prefix}10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"

    def state(i: int) -> KeyState:
        f = EventFields(str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        START_MS + i % 600_000, f"shop-{i % 20:02d}", f"O{i:09d}", None, None)
        return observe(None, rule, key(i), f, 0)[0]

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    table = {key(i): state(i) for i in range(n_keys)}
    as_objects = tracemalloc.get_traced_memory()[0] - base
    encoded = [json.dumps(s.to_dict(), separators=(",", ":")).encode() for s in table.values()]
    json_bytes = sum(map(len, encoded)) / n_keys
    del table
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    recovered = {key(i): json.loads(b) for i, b in enumerate(encoded)}
    as_dicts = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del recovered, encoded
    return {
        "n_keys": n_keys,
        "bytes_per_key": round(as_objects / n_keys, 1),
        "mb_total": round(as_objects / 2**20, 1),
        "dict_form_bytes_per_key": round(as_dicts / n_keys, 1),
        "dict_form_mb_total": round(as_dicts / 2**20, 1),
        "json_bytes_per_key": round(json_bytes, 1),
    }


if __name__ == "__main__":
    stream = generate(seed=1, n_normal=100_000)
    print(json.dumps(time_observe(stream.events)))
    gc.collect()
    gc.freeze()  # as a worker would after table recovery: the cyclic GC skips old objects
    print(json.dumps(time_observe(stream.events)))
    print(json.dumps(measure_state_memory()))
