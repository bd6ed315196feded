"""The table a run prints, the machine it ran on, and the goals it checks."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def machine() -> dict[str, object]:
    from streams.settings import stack

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "kafka": stack().kafka_version, "load_avg_start": _load()}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def finish_machine(info: dict[str, object]) -> dict[str, object]:
    return {**info, "load_avg_end": _load()}


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    right = [i > 0 for i in range(len(header))]
    right[-1] = False  # notes read left to right

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w)
                         for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])


def num(x: float, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    target: str
    met: bool

    def row(self) -> list[str]:
        return [self.name, num(self.value, 2), self.target, "met" if self.met else "MISSED"]


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def at_least(name: str, value: float, floor: float) -> Goal:
    return Goal(name, value, f">= {floor:g}", not math.isnan(value) and value >= floor)


def at_most(name: str, value: float, ceiling: float) -> Goal:
    return Goal(name, value, f"<= {ceiling:g}", not math.isnan(value) and value <= ceiling)


def goals_table(goals: Sequence[Goal]) -> str:
    return table(["goal", "measured", "target", ""], [g.row() for g in goals])
