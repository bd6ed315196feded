"""The boto3 plumbing SES and SMS share: one client per service, created once,
and a thread pool so blocking boto3 calls never run on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import from_botocore


def aws_client(
    service: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    concurrency: int = 10,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> Any:
    """A boto3 client that never retries on its own: ordercast retries through
    Kafka retry topics, and a hidden botocore retry would double the wait and
    hide throttling from the rate limiter. Credentials: the standard chain."""
    config = Config(
        max_pool_connections=concurrency,
        # total_max_attempts counts the first call; botocore's "max_attempts"
        # counts retries only (max_attempts=1 would still retry once)
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.session.Session().client(
        service, endpoint_url=endpoint_url, region_name=region, config=config
    )


class AwsCalls:
    """Runs boto3 calls in a dedicated pool sized like the client's connection
    pool, turning botocore failures into delivery errors."""

    def __init__(self, provider: str, concurrency: int = 10) -> None:
        self.provider = provider
        self._pool = ThreadPoolExecutor(max_workers=concurrency,
                                        thread_name_prefix=f"ordercast-{provider}")

    async def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, partial(fn, **kwargs))
        except (ClientError, BotoCoreError) as exc:
            # from None: botocore's own message may quote the recipient
            raise from_botocore(exc, self.provider) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
