"""The worker's HTTP endpoints: Prometheus metrics and health probes."""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .app import app


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/livez")
class Live(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/readyz")
class Ready(View):
    async def get(self, request: Request) -> Response:
        ready = app.rebalancing is False and app.consumer is not None
        return self.json({"ready": ready}, status=200 if ready else 503)
