"""Wall-clock time in epoch milliseconds, the unit every record uses."""

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
