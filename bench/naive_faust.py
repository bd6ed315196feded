"""The obvious Faust version of the naive consumer: one agent on the topic that
decodes, renders and sends through boto3, synchronously, inside the agent.

    BENCH_APP_ID=... BENCH_TOPIC=... BENCH_ENDPOINT=... BENCH_WEB_PORT=... \
        python -m bench.naive_faust
"""

from __future__ import annotations

import os
import sys

import faust

from schemas.codec import REGISTRY
from streams.settings import kafka as kafka_settings

from .naive import render_email, ses_client

app = faust.App(
    os.environ.get("BENCH_APP_ID", "bench-naive-faust"),
    broker=f"kafka://{kafka_settings().bootstrap}",
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", "/tmp/bench-naive-faust"),
    web_port=int(os.environ.get("BENCH_WEB_PORT", "6067")),
    web_host="127.0.0.1",
    web_bind="127.0.0.1",
    topic_partitions=8,
    consumer_auto_offset_reset="earliest",
)
orders = app.topic(os.environ.get("BENCH_TOPIC", "orders.payment-succeeded"),
                   key_type=bytes, value_type=bytes, key_serializer="raw",
                   value_serializer="raw")
ses = ses_client(os.environ.get("BENCH_ENDPOINT", "http://127.0.0.1:15000"))


@app.agent(orders)
async def mail_buyers(stream):
    async for value in stream:
        ses.send_email(**render_email(REGISTRY.decode(value)))


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()
