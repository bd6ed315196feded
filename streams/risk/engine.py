"""Windowed counting for one risk key: pure, synchronous, no I/O.

``observe`` folds one payment failure into the state of one key and returns
the alerts it raises.  The caller keeps the state in a changelogged table
under the key and writes it back after every call (``table[key] = state``).

Semantics (``reference_alerts`` in bench/risk_data.py checks them by brute force):

- Windows are in event time (``occurred_at``).  An event counts in every
  window ``[k*step, k*step + size)`` containing it.
- The alert fires on the event that brings a window to ``threshold`` (not at
  window close), once per key, rule and window.  The attacker carrying on
  raises nothing more until the next window reaches the threshold.
- Expiry: a window is dropped once the key's newest event time passes its end
  by more than the rule's grace (default: one window size).  A late event
  counts in the windows containing it that are still kept; an event whose
  windows are all gone is dropped.
- Idempotence: below the threshold a window holds the ids of the events it
  counted (distinct values for "distinct" rules), so an event observed again
  after a crash (at-least-once redelivery) never counts twice toward an
  alert, however far back the replay starts, as long as the window is kept.
  A window that has alerted ignores its events for alerting purposes, so a
  replay cannot raise a second alert; its post-alert count is informational
  and at-least-once.  The alert id is derived from (key, window_start), so a
  redelivered alert keeps its id.
- Context for the alert (first_seen, merchant ids, sample order ids) covers
  the key's current episode: it restarts when an event arrives after all of
  the key's windows have expired.

State stays bounded: at most ``(size + grace) / step + 1`` windows, each with
at most ``threshold - 1`` members, 10 merchant ids and 10 order ids.  A key
that goes quiet keeps its last state until the caller deletes it; use
``expires_at`` in a periodic sweep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .rules import EventFields, RiskRule

MAX_MERCHANTS = 10
MAX_ORDERS = 10
NEVER = -(1 << 62)


class KeyState:
    """Open windows and alert context for one key.

    ``windows`` maps window start (epoch ms) to the list of members counted so
    far while below the threshold, or to an int count once the window alerted.
    """

    __slots__ = ("windows", "newest", "first_seen", "merchants", "orders")

    def __init__(
        self,
        windows: dict[int, list[str] | int] | None = None,
        newest: int = NEVER,
        first_seen: int = NEVER,
        merchants: list[str] | None = None,
        orders: list[str] | None = None,
    ) -> None:
        self.windows = {} if windows is None else windows
        self.newest = newest  # highest occurred_at observed
        self.first_seen = first_seen  # lowest occurred_at of the current episode
        self.merchants = [] if merchants is None else merchants
        self.orders = [] if orders is None else orders

    def alerted(self, window_start: int) -> bool:
        return type(self.windows.get(window_start)) is int

    def count(self, window_start: int) -> int:
        w = self.windows.get(window_start, 0)
        return w if type(w) is int else len(w)

    def to_dict(self) -> dict[str, Any]:
        """Compact, JSON-ready form for the table changelog."""
        return {
            "w": [[s, w] for s, w in self.windows.items()],
            "n": self.newest,
            "f": self.first_seen,
            "m": self.merchants,
            "o": self.orders,
        }

    __json__ = to_dict  # faust's JSON codec serialises objects through __json__

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyState:
        return cls(
            {s: list(w) if type(w) is list else w for s, w in data["w"]},
            data["n"], data["f"], list(data["m"]), list(data["o"]),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyState) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"KeyState(windows={len(self.windows)}, newest={self.newest})"


def observe(
    state: KeyState | Mapping[str, Any] | None,
    rule: RiskRule,
    key: str,
    event: EventFields,
    raised_at: int,
) -> tuple[KeyState, list[dict[str, Any]]]:
    """Count ``event`` for ``key`` under ``rule``.  ``state`` may be None (new
    key) or the dict form a table recovered from its changelog.  Mutates and
    returns the state, plus the risk_alert records raised (usually none)."""
    if state is None:
        state = KeyState()
    elif type(state) is not KeyState:
        state = KeyState.from_dict(state)  # type: ignore[arg-type]
    member = event.event_id if rule.kind == "count" else event.email
    if member is None:
        return state, []
    t = event.occurred_at
    size = rule.size_ms
    windows = state.windows
    if t > state.newest:
        state.newest = t
        horizon = t - rule.grace_ms - size  # windows starting before this are gone
        if windows:
            for s in [s for s in windows if s < horizon]:
                del windows[s]
    else:
        horizon = state.newest - rule.grace_ms - size
    step = rule.step_ms
    last = t - t % step
    low = t - size + 1 if t - size + 1 > horizon else horizon
    if last < low:
        return state, []  # too late: every window containing it has expired
    first = last - (last - low) // step * step

    if not windows:  # a new episode
        state.first_seen = t
        state.merchants.clear()
        state.orders.clear()
    elif t < state.first_seen:
        state.first_seen = t
    merchants = state.merchants
    if event.merchant_id not in merchants and len(merchants) < MAX_MERCHANTS:
        merchants.append(event.merchant_id)
    order_id = event.order_id
    if order_id is not None and order_id not in state.orders:
        state.orders.append(order_id)
        if len(state.orders) > MAX_ORDERS:
            del state.orders[0]

    fired: list[int] = []
    threshold = rule.threshold
    for s in range(first, last + 1, step):
        w = windows.get(s)
        if w is None:
            if threshold == 1:
                windows[s] = 1
                fired.append(s)
            else:
                windows[s] = [member]
        elif type(w) is list:
            if member not in w:
                w.append(member)
                if len(w) >= threshold:
                    windows[s] = threshold
                    fired.append(s)
        elif rule.kind == "count":
            windows[s] = w + 1
    if not fired:
        return state, []
    return state, [_alert(rule, key, s, state, raised_at) for s in fired]


def _alert(rule: RiskRule, key: str, start: int, state: KeyState, raised_at: int
           ) -> dict[str, Any]:
    return {
        "alert_id": alert_id(key, start),
        "rule": rule.name,
        "key_type": rule.key_type,
        "key_value": key.partition(":")[2],
        "count": rule.threshold,
        "threshold": rule.threshold,
        "window_start": start,
        "window_end": start + rule.size_ms,
        "first_seen": state.first_seen,
        "last_seen": state.newest,
        "merchant_ids": list(state.merchants),
        "sample_order_ids": list(state.orders),
        "severity": rule.severity,
        "raised_at": raised_at,
    }


def alert_id(key: str, window_start: int) -> str:
    """Same key and window, same id: a replay cannot mint a second alert."""
    return hashlib.blake2b(f"{key}|{window_start}".encode(), digest_size=16).hexdigest()


def expires_at(state: KeyState | Mapping[str, Any], rule: RiskRule) -> int:
    """Event time (epoch ms) after which the state holds no open window; a
    periodic sweep deletes keys whose ``expires_at`` is older than now minus
    the consumer's lag margin."""
    newest = state.newest if type(state) is KeyState else state["n"]  # type: ignore[union-attr,index]
    return newest + rule.size_ms + rule.grace_ms
