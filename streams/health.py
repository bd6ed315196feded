"""Prometheus metrics and health probes, served by every worker role."""

from __future__ import annotations

import gc

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import watchdog
from .app import app


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/consumer")
class ConsumerState(View):
    """Offsets and fetch flags of this worker's faust consumer, as the stall
    watchdog sees them (no message content: as safe to expose as /metrics)."""

    async def get(self, request: Request) -> Response:
        consumer = app.consumer
        if consumer is None:
            return self.json({"error": "consumer not started"}, status=503)
        return self.json(watchdog.snapshot(consumer))


@app.page("/livez")
class Live(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


_joined = {"done": False}


@app.on_rebalance_complete.connect
async def _on_rebalance_complete(sender, **kwargs) -> None:
    _joined["done"] = True  # joined the group and recovered its tables at least once


@app.page("/readyz")
class Ready(View):
    async def get(self, request: Request) -> Response:
        ready = _joined["done"] and not app.rebalancing
        return self.json({"ready": ready}, status=200 if ready else 503)


@app.task
async def freeze_startup_objects() -> None:
    """Once started (tables recovered): move every object so far (modules, the
    clients, the recovered tables) out of the collector's view. A full
    collection walks every tracked object, and with these it stalled the event
    loop for ~100 ms every few seconds under load."""
    gc.collect()
    gc.freeze()
