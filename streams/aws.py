"""boto3 clients built from settings; the demo sender identities."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

from . import settings as cfg


def client(service: str, endpoint_url: str | None = None, pool: int | None = None):
    aws = cfg.aws()
    conf = Config(
        max_pool_connections=pool or aws.concurrency,
        retries={"max_attempts": 1, "mode": "standard"},  # retries go through Kafka
        connect_timeout=3,
        read_timeout=10,
    )
    return boto3.client(service, region_name=aws.region,
                        endpoint_url=endpoint_url or aws.endpoint_url, config=conf,
                        **_local_credentials(endpoint_url or aws.endpoint_url))


def _local_credentials(endpoint_url: str | None) -> dict[str, str]:
    # An emulator accepts any key; real AWS uses the standard credential chain.
    if endpoint_url and endpoint_url.startswith("http://127."):
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return {}


def sender_addresses() -> list[str]:
    senders = {cfg.worker().ses_sender}
    path = cfg.worker().merchants_file
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data.values() if isinstance(data, dict) else data
        for row in rows:
            if isinstance(row, dict) and row.get("sender"):
                senders.add(row["sender"])
    return sorted(senders)


def verify_senders(endpoint_url: str, senders: list[str] | None = None) -> list[str]:
    """Verify the demo sender identities in the emulator (verified at once there)."""
    ses = client("sesv2", endpoint_url)
    senders = senders or sender_addresses()
    for address in senders:
        ses.create_email_identity(EmailIdentity=address)
    return senders
