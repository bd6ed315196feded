"""The Faust app, built from settings. Domains declare their own topics,
tables and agents in their modules; the app only discovers them.

A worker runs one role: `notify` (routing, delivery, web), `risk` (the risk
agent, in its own consumer group so counting never waits behind delivery), or
`all` of them in one process (the local default).
"""

from __future__ import annotations

import faust

from . import chaos, commitguard, fetchwait, newtopics
from . import settings as cfg
from .changelog import ChangelogWriter

ROLES = {
    "notify": ("streams.router", "streams.delivery", "streams.buyers", "streams.web"),
    "risk": ("streams.risk_agent",),
}
ROLES["all"] = ROLES["notify"] + ROLES["risk"]
COMMON = ("streams.lag", "streams.health")  # streams.lag runs streams.watchdog

_k, _w = cfg.kafka(), cfg.worker()
fetchwait.install(_k.fetch_max_wait_ms)
newtopics.install()
APP_ID = f"{_w.app_id}-risk" if _w.role == "risk" else _w.app_id
(_w.data_dir / APP_ID).mkdir(parents=True, exist_ok=True)

app = faust.App(
    APP_ID,
    broker=f"kafka://{_k.bootstrap}",
    store=_w.store,
    datadir=str(_w.data_dir / APP_ID),
    autodiscover=[*ROLES[_w.role], *COMMON],
    origin="streams.app",  # faust scans the origin too: not the whole package, or every role
                           # would load every agent
    topic_partitions=_k.partitions,
    web_host=_w.web_host,
    web_bind=_w.web_host,
    web_port=_w.web_port,
    producer_acks=-1,
    producer_linger=0.005,  # the dozen records one order produces share requests
    consumer_auto_offset_reset="earliest",
    # fast failover: the defaults (60 s) leave partitions orphaned for a minute
    broker_session_timeout=10.0,
    broker_heartbeat_interval=2.0,
    broker_rebalance_timeout=30.0,
    broker_commit_interval=1.0,
    broker_max_poll_records=500,
    stream_wait_empty=False,
    table_standby_replicas=0,
)
chaos.install(app)  # only with ORDERCAST_CHAOS_DROP_FETCHED (chaos tests)
# outermost: a record the chaos fault loses has reached faust, and must hold the commit
commitguard.install(app)
# hot tables (risk state, delivery's sends) and the records promised with them
# go out through librdkafka: one producer for the whole worker
changelog = ChangelogWriter(app, _k.bootstrap)
