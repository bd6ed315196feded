"""The Faust app, built from settings. Domains declare their own topics,
tables and agents in their modules; the app only discovers them."""

from __future__ import annotations

import faust

from . import settings as cfg

_k, _w = cfg.kafka(), cfg.worker()
(_w.data_dir / _w.app_id).mkdir(parents=True, exist_ok=True)

app = faust.App(
    _w.app_id,
    broker=f"kafka://{_k.bootstrap}",
    store=_w.store,
    datadir=str(_w.data_dir / _w.app_id),
    origin="streams",
    autodiscover=["streams.router", "streams.delivery", "streams.risk_agent",
                  "streams.buyers", "streams.lag", "streams.web"],
    topic_partitions=_k.partitions,
    web_host=_w.web_host,
    web_bind=_w.web_host,
    web_port=_w.web_port,
    producer_acks=-1,
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
