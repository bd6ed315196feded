"""Fault tests: worker and broker crashes, provider outages, poison traffic and
secret scans, each on a run with a known set of notifications.

The default forms are short enough for CI; ORDERCAST_CHAOS_FULL=1 runs the
long forms (longer outages, 10,000 poison messages)."""

import os

FULL = os.environ.get("ORDERCAST_CHAOS_FULL", "") == "1"
