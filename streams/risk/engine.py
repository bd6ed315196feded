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
at most ``threshold - 1`` members, 10 merchant ids and 10 order ids.  Keep the
states as ``KeyState`` objects in the table (a faust codec over
``dumps``/``loads``); ``observe`` also accepts the ``to_dict`` form.  A key
that goes quiet keeps its last state until the caller deletes it; use
``expires_at`` in a periodic sweep.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from .rules import EventFields, RiskRule

MAX_MERCHANTS = 10
MAX_ORDERS = 10
NEVER = -(1 << 62)

# A window below the threshold holds the tuple of members it counted (event ids,
# or emails for "distinct" rules); an alerted one holds its count as an int; a
# gap between open windows holds None.
Window = tuple[str, ...] | int | None


class KeyState:
    """Open windows and alert context for one key.

    The windows are consecutive: ``windows[i]`` is the window starting at
    ``start + i * step`` (a list and one int cost far less than a dict for the
    usual key that has one open window).
    """

    __slots__ = ("step", "start", "windows", "newest", "first_seen", "merchants", "orders")

    def __init__(
        self,
        step: int = 0,
        start: int = NEVER,
        windows: list[Window] | None = None,
        newest: int = NEVER,
        first_seen: int = NEVER,
        merchants: tuple[str, ...] = (),
        orders: tuple[str, ...] = (),
    ) -> None:
        self.step = step  # ms between window starts, as the rule said when they were opened
        self.start = start  # epoch ms of windows[0]
        self.windows = [] if windows is None else windows
        self.newest = newest  # highest occurred_at observed
        self.first_seen = first_seen  # lowest occurred_at of the current episode
        self.merchants = merchants  # first MAX_MERCHANTS of the episode
        self.orders = orders  # latest MAX_ORDERS of the episode

    def window(self, window_start: int, rule: RiskRule) -> Window:
        i, r = divmod(window_start - self.start, self.step or rule.step_ms)
        return self.windows[i] if not r and 0 <= i < len(self.windows) else None

    def count(self, window_start: int, rule: RiskRule) -> int:
        w = self.window(window_start, rule)
        return 0 if w is None else w if type(w) is int else len(w)

    def alerted(self, window_start: int, rule: RiskRule) -> bool:
        return type(self.window(window_start, rule)) is int

    def to_dict(self) -> dict[str, Any]:
        """Compact, JSON-ready form for the table changelog. Only tuples and
        atomic values: kept in a table, the collector stops tracking it after
        one pass, so a million keys do not lengthen every full collection."""
        return {"p": self.step, "s": self.start, "w": tuple(self.windows), "n": self.newest,
                "f": self.first_seen, "m": self.merchants, "o": self.orders}

    __json__ = to_dict  # faust's JSON codec serialises objects through __json__

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyState:
        return cls(
            data["p"], data["s"],
            [tuple(w) if type(w) is list else w for w in data["w"]],
            data["n"], data["f"],
            tuple(sys.intern(m) for m in data["m"]), tuple(data["o"]),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyState) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:  # counts only: members may be emails
        counts = [w if w is None or type(w) is int else len(w) for w in self.windows]
        return f"KeyState(start={self.start}, counts={counts}, newest={self.newest})"


def dumps(state: KeyState) -> bytes:
    """Changelog bytes (for a faust codec or a RocksDB-backed table)."""
    return json.dumps(state.to_dict(), separators=(",", ":")).encode()


def loads(data: bytes) -> KeyState:
    return KeyState.from_dict(json.loads(data))


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
    member = event.event_id if rule.kind == "count" else event.email
    t = event.occurred_at
    size, step = rule.size_ms, rule.step_ms
    if state is None:
        if member is not None and rule.threshold > 1:  # the common case, made cheap
            last = t - t % step
            first = last - (size - 1 - t % step) // step * step
            return KeyState(
                step, first, [(member,)] * ((last - first) // step + 1), t, t,
                (sys.intern(event.merchant_id),),
                () if event.order_id is None else (event.order_id,),
            ), []
        state = KeyState()
    elif type(state) is not KeyState:
        state = KeyState.from_dict(state)  # type: ignore[arg-type]
    if member is None:
        return state, []
    windows = state.windows
    if state.step != step:
        windows.clear()  # a new key, or the rule's window changed since the state was written
        state.step = step
    if t > state.newest:
        state.newest = t
        horizon = t - rule.grace_ms - size  # windows starting before this are gone
        if windows and state.start < horizon:
            drop = -((state.start - horizon) // step)  # ceil((horizon - start) / step)
            while drop < len(windows) and windows[drop] is None:
                drop += 1
            del windows[:drop]
            state.start += drop * step
    else:
        horizon = state.newest - rule.grace_ms - size
    last = t - t % step
    low = t - size + 1 if t - size + 1 > horizon else horizon
    if last < low:
        return state, []  # too late: every window containing it has expired
    first = last - (last - low) // step * step

    if not windows:  # a new episode
        state.start = first
        state.first_seen = t
        state.merchants = state.orders = ()
    elif t < state.first_seen:
        state.first_seen = t
    if first < state.start:  # a late event opening earlier windows
        windows[:0] = [None] * ((state.start - first) // step)
        state.start = first
    lo = (first - state.start) // step
    end = (last - state.start) // step + 1
    if end > len(windows):
        windows.extend([None] * (end - len(windows)))
    merchant_id = event.merchant_id
    if merchant_id not in state.merchants and len(state.merchants) < MAX_MERCHANTS:
        state.merchants += (sys.intern(merchant_id),)
    order_id = event.order_id
    if order_id is not None and order_id not in state.orders:
        state.orders = (*state.orders[1 - MAX_ORDERS:], order_id)

    fired: list[int] = []
    threshold = rule.threshold
    for i in range(lo, end):
        w = windows[i]
        if w is None:
            if threshold == 1:
                windows[i] = 1
                fired.append(i)
            else:
                windows[i] = (member,)
        elif type(w) is tuple:
            if member not in w:
                if len(w) + 1 >= threshold:
                    windows[i] = threshold
                    fired.append(i)
                else:
                    windows[i] = (*w, member)
        elif rule.kind == "count":
            windows[i] = w + 1
    if not fired:
        return state, []
    return state, [_alert(rule, key, state.start + i * step, state, raised_at) for i in fired]


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
