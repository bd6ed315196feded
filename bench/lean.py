"""The leanest delivery pipeline this codebase allows, as a yardstick for the
worker: no faust, no event loop. One librdkafka consumer thread hands each
request to a pool of threads that do the worker's per-send work: decode,
dedup lookup, render with ordercast's templates, build and validate the
``SendEmail`` request, write the in-flight mark and wait for its
acknowledgement, call SES on the shared client, write the sent mark and the
Avro delivery result. Offsets are committed once, at the end.

    python -m bench.lean --topic IN --marks MARKS --results RESULTS --group G \\
        --endpoint URL --n N --concurrency C

It leaves out what a production worker must also do (rate limiting, retries
and dead letters, metrics, rebalances, restoring the marks): the gap between
this and the boto3 ceiling is the part of the per-send cost that no
restructuring of the worker can remove.
"""

from __future__ import annotations

import argparse
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer, Producer

from channels.aws import aws_client
from channels.email_ses import SesEmailChannel
from schemas.codec import REGISTRY
from streams import context
from streams.clock import now_ms
from streams.dispatch import to_message
from streams.render import PARTS_BY_CHANNEL, Renderer
from streams.settings import kafka as kafka_settings

SENDER = "noreply@ordercast.example"


class Pipeline:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.producer = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 2,
                                  "enable.idempotence": True})
        self.renderer = Renderer(auto_reload=False)
        self.merchants = context.merchants()
        self.channel = SesEmailChannel(sender=SENDER, endpoint_url=a.endpoint,
                                       region="us-east-1", concurrency=a.concurrency)
        self.client = aws_client("sesv2", endpoint_url=a.endpoint, region="us-east-1",
                                 concurrency=a.concurrency)
        self.sends: dict[str, str] = {}
        self.lock = threading.Lock()
        self.done = 0
        self.finished = threading.Event()
        self.stop = threading.Event()

    def serve_reports(self) -> None:
        while not self.stop.is_set():
            self.producer.poll(0.05)

    def deliver(self, partition: int, value: bytes) -> None:
        request = REGISTRY.decode(value, expect="notification_request")
        nid = request["notification_id"]
        with self.lock:
            if self.sends.get(nid) == "sent":
                return
        merchant = self.merchants[request["merchant_id"]]
        rendered = self.renderer.render(request["template"], request["locale"], merchant,
                                        request["variables"], parts=PARTS_BY_CHANNEL["email"])
        kwargs = self.channel.request(to_message(request, rendered,
                                                 merchant.sender_email or SENDER))
        acked = threading.Event()
        self.producer.produce(self.a.marks, json.dumps(["inflight", now_ms()]).encode(),
                              nid.encode(), partition=partition,
                              on_delivery=lambda err, msg: acked.set())
        acked.wait()
        response = self.client.send_email(**kwargs)
        self.producer.produce(self.a.marks, json.dumps(["sent", now_ms()]).encode(),
                              nid.encode(), partition=partition)
        record = {
            "notification_id": nid, "event_id": request["event_id"],
            "merchant_id": request["merchant_id"], "order_id": request.get("order_id"),
            "template": request["template"], "channel": "email", "provider": "ses",
            "status": "delivered", "provider_message_id": response["MessageId"], "attempt": 0,
            "latency_ms": max(0, now_ms() - request["occurred_at"]), "fallback": False,
            "error_class": None, "error_message": None, "at": now_ms()}
        self.producer.produce(self.a.results,
                              REGISTRY.encode("delivery_result", record, check=False),
                              nid.encode())
        with self.lock:
            self.sends[nid] = "sent"
            self.done += 1
            if self.done >= self.a.n:
                self.finished.set()

    def run(self) -> None:
        threading.Thread(target=self.serve_reports, daemon=True).start()
        consumer = Consumer({"bootstrap.servers": self.a.bootstrap, "group.id": self.a.group,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([self.a.topic])
        # a bounded backlog in the pool, as a worker would keep
        slots = threading.BoundedSemaphore(self.a.concurrency * 4)
        failures: list[BaseException] = []

        def settle(future) -> None:
            slots.release()
            if future.exception() is not None:
                failures.append(future.exception())
                self.finished.set()

        with ThreadPoolExecutor(self.a.concurrency) as pool:
            while not self.finished.is_set():
                for msg in consumer.consume(500, 0.1):
                    if msg.error():
                        continue
                    slots.acquire()
                    pool.submit(self.deliver, msg.partition(), msg.value()).add_done_callback(
                        settle)
        if failures:
            raise failures[0]
        self.producer.flush(30)
        consumer.commit(asynchronous=False)
        consumer.close()
        self.stop.set()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", default=kafka_settings().bootstrap)
    p.add_argument("--topic", required=True)
    p.add_argument("--marks", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    Pipeline(p.parse_args()).run()


if __name__ == "__main__":
    main()
