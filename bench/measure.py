"""Rates and latency percentiles from the fake provider's call log. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Call = tuple[float, str, str]  # (epoch seconds, order key, api)


@dataclass(frozen=True)
class Rate:
    count: int  # distinct orders that reached the provider
    seconds: float  # first call to last call
    per_s: float


def first_calls(calls: Iterable[Call], api: str = "ses") -> dict[str, float]:
    """Order key -> time of its first call (a redelivered send is not a new order)."""
    first: dict[str, float] = {}
    for at, key, kind in calls:
        if kind == api and key and (key not in first or at < first[key]):
            first[key] = at
    return first


def steady_rate(calls: Iterable[Call], api: str = "ses") -> Rate:
    """Orders per second between the first and the last provider call."""
    times = sorted(first_calls(calls, api).values())
    if len(times) < 2 or times[-1] <= times[0]:
        return Rate(len(times), 0.0, 0.0)
    seconds = times[-1] - times[0]
    return Rate(len(times), seconds, (len(times) - 1) / seconds)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Latency:
    count: int
    missing: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def latencies(published: Mapping[str, float], calls: Iterable[Call], api: str = "ses"
              ) -> Latency:
    """Publish time -> first provider call, per order, in milliseconds."""
    return between(published, first_calls(calls, api))


def between(start: Mapping[str, float], end: Mapping[str, float]) -> Latency:
    """Per key, ``end - start`` in milliseconds (keys missing from ``end`` are missing)."""
    values = sorted((end[k] - t) * 1000 for k, t in start.items() if k in end)
    return Latency(len(values), len(start) - len(values), percentile(values, 50),
                   percentile(values, 99), values[-1] if values else math.nan)
