"""Risk rules and the keys a failed payment counts toward.

A rule counts payment failures per key (``key_type`` "ip" or "email") in
event-time windows and alerts once a window reaches ``threshold``:

- kind "count": failed payments per key (card testing from one IP or one email);
- kind "distinct": distinct buyer emails per IP (many identities behind one IP).

Windows are aligned to the epoch: an event at ``t`` belongs to every window
``[k*step, k*step + size)`` that contains it.  Tumbling is hopping with
``step == size``.

Keys.  Every key is one string, used as the table key, the partition key and
part of the alert id::

    failures_per_ip:203.0.113.7             counted across all merchants
    failures_per_ip@shop-9:203.0.113.7      counted for merchant shop-9 only

Per-merchant overrides.  An override replaces a rule's threshold and/or window
(size, step, grace) for one merchant.  That merchant's events are then counted
*only* under its own ``rule@merchant:value`` key with the overridden
parameters; they no longer add to the shared key.  Merchants without an
override share one counter per key across all of them, so an IP that tests
cards on five shops is still caught.  An override therefore isolates a
merchant in both directions: a lenient override (a shop behind a busy NAT)
does not push the shared counters up, and a strict one does not lower the
bar for everyone else.

Values are normalised before keying: emails are trimmed and lower-cased, IPs
trimmed and lower-cased (IPv6 hex).  An event without an IP (or without an
email) contributes nothing to rules that need one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

KeyType = Literal["ip", "email"]
Kind = Literal["count", "distinct"]
WindowKind = Literal["tumbling", "hopping"]

SEVERITIES = ("low", "medium", "high", "critical")
OVERRIDABLE = ("threshold", "size_s", "step_s", "grace_s")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RuleError(ValueError):
    """A rule or override is misconfigured; fix the settings, retrying cannot help."""

    retriable = False


@dataclass(frozen=True, slots=True)
class RiskRule:
    name: str
    key_type: KeyType
    kind: Kind = "count"
    window: WindowKind = "tumbling"
    size_s: int = 600
    step_s: int | None = None  # hopping only; tumbling uses size_s
    threshold: int = 5
    severity: str = "high"
    grace_s: int | None = None  # how long a window stays open for late events; default size_s
    merchant_id: str | None = None  # set on the copy an override produces
    # derived in __post_init__: plain attributes are cheaper than properties per event
    size_ms: int = field(init=False, repr=False, compare=False)
    step_ms: int = field(init=False, repr=False, compare=False)
    grace_ms: int = field(init=False, repr=False, compare=False)
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise RuleError(f"rule name {self.name!r} must match {_NAME.pattern}")
        if self.key_type not in ("ip", "email"):
            raise RuleError(f"{self.name}: key_type must be ip or email")
        if self.kind not in ("count", "distinct"):
            raise RuleError(f"{self.name}: kind must be count or distinct")
        if self.kind == "distinct" and self.key_type != "ip":
            raise RuleError(f"{self.name}: distinct counts emails per IP; key_type must be ip")
        if self.window not in ("tumbling", "hopping"):
            raise RuleError(f"{self.name}: window must be tumbling or hopping")
        if self.window == "tumbling" and self.step_s not in (None, self.size_s):
            raise RuleError(f"{self.name}: a tumbling window has no step of its own")
        if self.window == "hopping" and self.step_s is None:
            raise RuleError(f"{self.name}: a hopping window needs step_s")
        if self.size_s <= 0 or not 0 < self.step <= self.size_s:
            raise RuleError(f"{self.name}: need 0 < step_s <= size_s")
        if self.threshold < 1:
            raise RuleError(f"{self.name}: threshold must be at least 1")
        if self.grace_s is not None and self.grace_s < 0:
            raise RuleError(f"{self.name}: grace_s must not be negative")
        if self.severity not in SEVERITIES:
            raise RuleError(f"{self.name}: severity must be one of {', '.join(SEVERITIES)}")
        if self.merchant_id is not None and (not self.merchant_id or ":" in self.merchant_id):
            raise RuleError(f"{self.name}: merchant id {self.merchant_id!r} cannot hold ':'")
        grace_s = self.size_s if self.grace_s is None else self.grace_s
        scope = "" if self.merchant_id is None else f"@{self.merchant_id}"
        object.__setattr__(self, "size_ms", self.size_s * 1000)
        object.__setattr__(self, "step_ms", self.step * 1000)
        object.__setattr__(self, "grace_ms", grace_s * 1000)
        # start of every key this rule counts under, up to and including ':'
        object.__setattr__(self, "prefix", f"{self.name}{scope}:")

    @property
    def step(self) -> int:
        return self.size_s if self.step_s is None else self.step_s


DEFAULT_RULES: tuple[RiskRule, ...] = (
    RiskRule("failures_per_ip", "ip", threshold=5, size_s=600, severity="high"),
    RiskRule("failures_per_email", "email", threshold=5, size_s=600, severity="high"),
    RiskRule("emails_per_ip", "ip", kind="distinct", threshold=4, size_s=600,
             severity="medium"),
)

# (merchant_id, rule name) -> the rule as that merchant sees it
Overrides = Mapping[tuple[str, str], RiskRule]


def build_overrides(
    spec: Mapping[str, Mapping[str, Mapping[str, Any]]], rules: Iterable[RiskRule]
) -> dict[tuple[str, str], RiskRule]:
    """Turn settings such as ``{"shop-9": {"failures_per_ip": {"threshold": 20}}}``
    into the mapping ``keys_for`` takes.  Giving ``step_s`` to a tumbling rule
    makes it hopping for that merchant."""
    by_name = {r.name: r for r in rules}
    out: dict[tuple[str, str], RiskRule] = {}
    for merchant_id, per_rule in spec.items():
        for name, changes in per_rule.items():
            if name not in by_name:
                raise RuleError(f"override for unknown rule {name!r}")
            unknown = set(changes) - set(OVERRIDABLE)
            if unknown:
                raise RuleError(f"{name}: cannot override {', '.join(sorted(unknown))}")
            base = by_name[name]
            fields = dict(changes)
            if "step_s" in fields and fields["step_s"] != fields.get("size_s", base.size_s):
                fields["window"] = "hopping"
            elif base.window == "tumbling":
                fields["step_s"] = None
            out[(merchant_id, name)] = dataclasses.replace(base, merchant_id=merchant_id,
                                                           **fields)
    return out


class EventFields(NamedTuple):
    """What the risk rules read from a payment_failed event, normalised."""

    event_id: str
    occurred_at: int
    merchant_id: str
    order_id: str | None
    ip: str | None
    email: str | None


def fields_of(event: Mapping[str, Any]) -> EventFields:
    """Extract from a decoded payment_failed record (or its envelope)."""
    env = event.get("envelope", event)
    ip = env.get("client_ip")
    email = (env.get("buyer") or {}).get("email")
    return EventFields(
        env["event_id"], env["occurred_at"], env["merchant_id"], env.get("order_id"),
        _clean(ip), _clean(email),
    )


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    return value or None


def keys_for(
    event: EventFields | Mapping[str, Any],
    rules: Sequence[RiskRule] = DEFAULT_RULES,
    overrides: Overrides | None = None,
) -> list[tuple[RiskRule, str]]:
    """The (effective rule, key) pairs one event counts toward."""
    f = event if isinstance(event, EventFields) else fields_of(event)
    out = []
    for rule in rules:
        value = f.ip if rule.key_type == "ip" else f.email
        if value is None or (rule.kind == "distinct" and f.email is None):
            continue
        if overrides:
            rule = overrides.get((f.merchant_id, rule.name), rule)
        out.append((rule, rule.prefix + value))
    return out


def split_key(key: str) -> tuple[str, str | None, str]:
    """``"failures_per_ip@shop-9:203.0.113.7"`` -> rule name, merchant id or None, value."""
    head, sep, value = key.partition(":")
    if not sep:
        raise RuleError(f"not a risk key: {key[:40]!r}")
    name, _, merchant_id = head.partition("@")
    return name, merchant_id or None, value


def rule_for(
    key: str, rules: Sequence[RiskRule] = DEFAULT_RULES, overrides: Overrides | None = None
) -> RiskRule:
    """The effective rule behind a key from ``keys_for`` (after a repartition hop)."""
    name, merchant_id, _ = split_key(key)
    if merchant_id is not None:
        rule = (overrides or {}).get((merchant_id, name))
        if rule is not None:
            return rule
    for rule in rules:
        if rule.name == name:
            # an override removed while its keys are still in flight: the base
            # parameters, still scoped to that merchant so the key stays the same
            return rule if merchant_id is None else dataclasses.replace(
                rule, merchant_id=merchant_id)
    raise RuleError(f"unknown rule {name!r}")
