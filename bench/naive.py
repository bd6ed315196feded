"""What a shop writes first (the seeds' sketch: a worker takes order events off
the queue and mails the buyer): one confluent-kafka consumer that decodes each
event, renders the email with Jinja2, sends it through boto3 SES v2 and commits,
one message at a time.

    python -m bench.naive --topic T --group G --endpoint URL --n N

``render_email`` is shared with the naive Faust agent (bench.naive_faust).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from confluent_kafka import Consumer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from schemas.codec import REGISTRY
from streams.render import TEMPLATE_DIR
from streams.settings import ROOT
from streams.settings import kafka as kafka_settings

env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                  autoescape=select_autoescape(["html"]))


@cache
def merchants() -> dict[str, dict[str, Any]]:
    data = json.loads((ROOT / "deploy" / "merchants.example.json").read_text(encoding="utf-8"))
    return {m["merchant_id"]: m for m in data["merchants"]}


def render_email(event: dict[str, Any]) -> dict[str, Any]:
    """``send_email`` arguments for one payment_succeeded event."""
    e, buyer = event["envelope"], event["envelope"]["buyer"]
    shop = merchants()[e["merchant_id"]]
    locale = buyer["locale"]
    paid = datetime.fromtimestamp(e["occurred_at"] / 1000, UTC).astimezone(
        ZoneInfo(buyer["timezone"]))
    context = {
        "merchant_name": shop["name"], "order_no": e["order_id"],
        "product_name": event["items"][0]["product_name"] if event["items"] else "",
        "amount": f"¥{e['amount_minor'] / 100:.2f}", "payment_method": event["payment_method"],
        "occurred_at": paid.strftime("%Y-%m-%d %H:%M"),
    }

    def part(suffix: str) -> str:
        return env.get_template(f"{locale}/payment_succeeded.{suffix}").render(context)

    return {
        "FromEmailAddress": shop["sender_email"],
        "Destination": {"ToAddresses": [buyer["email"]]},
        "Content": {"Simple": {
            "Subject": {"Data": part("subject.txt").strip()},
            "Body": {"Text": {"Data": part("txt")}, "Html": {"Data": part("html")}},
        }},
    }


def ses_client(endpoint: str):
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1")


def run(bootstrap: str, topic: str, group: str, endpoint: str, n: int) -> None:
    ses = ses_client(endpoint)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    done = 0
    try:
        while done < n:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            event = REGISTRY.decode(msg.value())
            ses.send_email(**render_email(event))
            consumer.commit(message=msg, asynchronous=False)
            done += 1
    finally:
        consumer.close()


def main() -> None:
    p = argparse.ArgumentParser(description="naive consumer: decode, render, send, commit")
    p.add_argument("--bootstrap", default=kafka_settings().bootstrap)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--n", type=int, required=True)
    a = p.parse_args()
    run(a.bootstrap, a.topic, a.group, a.endpoint, a.n)


if __name__ == "__main__":
    main()
